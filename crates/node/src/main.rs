//! `rustidocs-node [/path/to/redis.conf] [--directive value ...]`: starts a node the
//! way `redis-server` starts, from a config file and command-line directives.

use anyhow::Context;
use node::config::Config;

fn usage() -> ! {
    eprintln!(
        "Usage: rustidocs-node [/path/to/redis.conf] [options] [-]\n       rustidocs-node - (read config from stdin)\n       rustidocs-node -v or --version\n       rustidocs-node -h or --help\n\nExamples:\n       rustidocs-node (run the server with default conf)\n       rustidocs-node /etc/redis/6379.conf\n       rustidocs-node --port 7777\n       rustidocs-node /etc/myredis.conf --loglevel verbose"
    );
    std::process::exit(1);
}

/// Turns `[file] [--name v v ...] ...` into config text, as `redis-server` does.
fn config_text(args: &[String]) -> anyhow::Result<(Option<String>, String)> {
    let mut text = String::new();
    let mut rest = args;
    let mut file = None;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") && first != "-" {
            let content = std::fs::read_to_string(first)
                .with_context(|| format!("Fatal error, can't open config file '{first}'"))?;
            text.push_str(&content);
            text.push('\n');
            file = Some(first.clone());
            rest = &rest[1..];
        }
    }
    let mut line = String::new();
    for arg in rest {
        if arg == "-" {
            let mut stdin = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin)?;
            text.push_str(&stdin);
            text.push('\n');
        } else if let Some(name) = arg.strip_prefix("--") {
            if !line.is_empty() {
                text.push_str(&line);
                text.push('\n');
            }
            line = name.to_string();
        } else {
            line.push(' ');
            line.push_str(&quote(arg));
        }
    }
    if !line.is_empty() {
        text.push_str(&line);
        text.push('\n');
    }
    Ok((file, text))
}

/// Quotes a command-line value so the config parser sees it as one word.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && !arg.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        return arg.to_string();
    }
    let mut q = String::from("\"");
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!(
                "Redis server v={} sha=00000000:0 malloc=libc bits=64 build=rustidocs",
                node::REDIS_VERSION
            );
            return Ok(());
        }
        Some("-h") | Some("--help") => usage(),
        Some("--check-snapshot") => {
            std::process::exit(node::persist::snapshot::check::run_cli(&args[1..]))
        }
        Some("--check-aof") => std::process::exit(node::persist::aof::check::main(&args[1..])),
        _ => {}
    }
    let (file, text) = config_text(&args)?;
    let mut config = Config::default();
    let warnings = match config.load(&text) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nReading the configuration file, at {e}", node::REDIS_VERSION);
            std::process::exit(1);
        }
    };
    config.config_file = file.map(|f| std::fs::canonicalize(&f).unwrap_or_else(|_| f.into()));
    if !config.dir.is_empty() {
        std::env::set_current_dir(&config.dir)
            .with_context(|| format!("Can't chdir to '{}'", config.dir))?;
    }
    let _log_guard = node::log::init(&config.loglevel, &config.logfile)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    tracing::warn!("oO0OoO0OoO0Oo rustidocs-node is starting oO0OoO0OoO0Oo");
    tracing::warn!(
        "Redis version={}, bits=64, pid={}, just started",
        node::REDIS_VERSION,
        std::process::id()
    );
    let mode = if config.get("cluster-enabled") == Some("yes") {
        "cluster"
    } else {
        "standalone"
    };
    println!("                Redis {} (rustidocs-node) 64 bit\n                Running in {mode} mode\n                Port: {}\n                PID: {}\n", node::REDIS_VERSION, config.port, std::process::id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    if let Err(e) = local.block_on(&runtime, node::run(config)) {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
    Ok(())
}
