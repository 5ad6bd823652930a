//! Configuration: `redis.conf` files and `--directive value` arguments with Redis's
//! names and value syntax, CONFIG GET/SET semantics, and typed access for the server.

mod params;
mod parse;

use std::collections::BTreeMap;

pub use params::{find as find_param, is_protected, Kind, Param, PARAMS};
pub use parse::{parse_memory, ConfigError};

/// Output buffer limits of one client class (`client-output-buffer-limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// The effective configuration. `values` holds every known parameter in the form
/// CONFIG GET shows; the typed fields mirror the ones the server reads on hot paths.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    pub config_file: Option<std::path::PathBuf>,
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub maxclients: usize,
    pub timeout_secs: u64,
    pub requirepass: Option<Vec<u8>>,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    pub output_normal: BufferLimit,
    pub output_replica: BufferLimit,
    pub output_pubsub: BufferLimit,
    pub databases: usize,
    pub hz: u64,
    pub loglevel: String,
    pub logfile: String,
    pub dir: String,
    pub tcp_keepalive: u64,
    /// `zset-max-listpack-entries` / `-value`, read on every sorted set write.
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config {
            values: BTreeMap::new(),
            config_file: None,
            port: 6379,
            bind: vec![],
            protected_mode: true,
            maxclients: 10000,
            timeout_secs: 0,
            requirepass: None,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            output_normal: BufferLimit::default(),
            output_replica: BufferLimit::default(),
            output_pubsub: BufferLimit::default(),
            databases: 16,
            hz: 10,
            loglevel: "notice".into(),
            logfile: String::new(),
            dir: String::new(),
            tcp_keepalive: 300,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        };
        for p in PARAMS {
            c.values.insert(p.name, p.default.to_string());
        }
        c.refresh_typed();
        c
    }
}

impl Config {
    /// The CONFIG GET form of a parameter (by name or alias).
    pub fn get(&self, name: &str) -> Option<&str> {
        let p = params::find(name)?;
        self.values.get(p.name).map(String::as_str)
    }

    /// Every (name, value) whose name or alias matches the glob `pattern`, as CONFIG GET
    /// replies (aliases are listed under the name that matched).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for p in PARAMS {
            let value = &self.values[p.name];
            for name in std::iter::once(p.name).chain(p.alias) {
                if crate::glob::glob_match(pattern, name.as_bytes(), true) {
                    out.push((name.to_string(), value.clone()));
                }
            }
        }
        out
    }

    /// Sets a parameter from its argument words, validating like Redis. `at_startup`
    /// allows immutable parameters and appends to multi-line ones (`save`, `bind`).
    pub fn set(
        &mut self,
        name: &str,
        args: &[String],
        at_startup: bool,
    ) -> Result<(), ConfigError> {
        let p = params::find(name).ok_or(ConfigError::Unknown)?;
        if p.immutable && !at_startup {
            return Err(ConfigError::Immutable);
        }
        let value = parse::normalize(
            p,
            args,
            self.values.get(p.name).map(String::as_str),
            at_startup,
        )?;
        let old = self.values.insert(p.name, value);
        if let Err(e) = self.refresh_typed_checked() {
            if let Some(old) = old {
                self.values.insert(p.name, old);
            }
            self.refresh_typed();
            return Err(e);
        }
        Ok(())
    }

    fn refresh_typed(&mut self) {
        self.refresh_typed_checked().expect("defaults are valid");
    }

    fn refresh_typed_checked(&mut self) -> Result<(), ConfigError> {
        let v = &self.values;
        let num = |name: &str| -> u64 { v[name].parse().unwrap_or(0) };
        self.port = num("port") as u16;
        self.bind = v["bind"].split_whitespace().map(str::to_string).collect();
        self.protected_mode = v["protected-mode"] == "yes";
        self.maxclients = num("maxclients") as usize;
        self.timeout_secs = num("timeout");
        self.requirepass = Some(v["requirepass"].as_bytes().to_vec()).filter(|p| !p.is_empty());
        self.proto_max_bulk_len = num("proto-max-bulk-len") as usize;
        self.client_query_buffer_limit = num("client-query-buffer-limit") as usize;
        let limits = parse::output_limits(&v["client-output-buffer-limit"])?;
        self.output_normal = limits[0];
        self.output_replica = limits[1];
        self.output_pubsub = limits[2];
        self.databases = num("databases").max(1) as usize;
        self.hz = num("hz").clamp(1, 500);
        self.loglevel = v["loglevel"].clone();
        self.logfile = v["logfile"].clone();
        self.dir = v["dir"].clone();
        self.tcp_keepalive = num("tcp-keepalive");
        self.zset_max_listpack_entries = num("zset-max-listpack-entries") as usize;
        self.zset_max_listpack_value = num("zset-max-listpack-value") as usize;
        Ok(())
    }

    /// Parses a config file's text plus command-line directives. Unknown directives are
    /// returned as warnings, not errors, so a Redis config file always loads.
    pub fn load(&mut self, text: &str) -> Result<Vec<String>, ConfigError> {
        parse::load_text(self, text)
    }

    /// The new config file for CONFIG REWRITE: `old`'s lines are kept, a directive the
    /// file already has is updated in place (once; repeats are dropped), and parameters
    /// that differ from their defaults and were not in the file are appended.
    pub fn rewrite_file(&self, old: &str) -> String {
        let mut out = String::new();
        let mut written: Vec<&'static str> = Vec::new();
        for line in old.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            match params::find(name).filter(|_| !line.trim_start().starts_with('#')) {
                Some(p) if written.contains(&p.name) => {}
                Some(p) => {
                    written.push(p.name);
                    out.push_str(&parse::render_directive(p, &self.values[p.name]));
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        let appended: Vec<&Param> = PARAMS
            .iter()
            .filter(|p| !written.contains(&p.name) && self.values[p.name] != p.default)
            .collect();
        if !appended.is_empty() {
            out.push_str("# Generated by CONFIG REWRITE\n");
        }
        for p in appended {
            out.push_str(&parse::render_directive(p, &self.values[p.name]));
        }
        out
    }

    /// Text for CONFIG REWRITE: every parameter that differs from its default.
    pub fn rewrite_text(&self) -> String {
        let mut out = String::new();
        for p in PARAMS {
            let value = &self.values[p.name];
            if value != p.default && !p.name.is_empty() {
                out.push_str(&parse::render_directive(p, value));
            }
        }
        out
    }
}
