//! Parsing and validating configuration values and config file text, with Redis's
//! error messages.

use super::params::{find, Kind, Param};
use super::{BufferLimit, Config};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("Bad directive or wrong number of arguments")]
    Unknown,
    #[error("can't set immutable config")]
    Immutable,
    #[error("argument must be 'yes' or 'no'")]
    NotBool,
    #[error("argument couldn't be parsed into an integer")]
    NotInteger,
    #[error("argument must be a memory value")]
    NotMemory,
    #[error("argument must be between {0} and {1} inclusive")]
    OutOfRange(i64, i64),
    #[error("argument(s) must be one of the following: {0}")]
    NotInEnum(String),
    #[error("Invalid client class specified in buffer limit configuration.")]
    BadLimitClass,
    #[error("Wrong number of arguments in buffer limit configuration.")]
    BadLimitArity,
    #[error("Error in hard, soft or soft_seconds setting in buffer limit configuration.")]
    BadLimitValue,
    #[error("wrong number of arguments")]
    Arity,
    #[error("Invalid save parameters")]
    InvalidSave,
    #[error("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    InvalidEvents,
    #[error("line {line}: {message}\n>>> '{text}'")]
    AtLine {
        line: usize,
        text: String,
        message: String,
    },
}

/// Redis's `memtoull`: a number with an optional unit (k, kb, m, mb, g, gb).
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn parse_bool(s: &str) -> Result<bool, ConfigError> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(ConfigError::NotBool),
    }
}

/// Turns the argument words of a directive into the stored CONFIG GET form.
pub(super) fn normalize(
    p: &Param,
    args: &[String],
    current: Option<&str>,
    at_startup: bool,
) -> Result<String, ConfigError> {
    let single = || -> Result<&str, ConfigError> {
        match args {
            [one] => Ok(one.as_str()),
            _ => Err(ConfigError::Arity),
        }
    };
    match (p.name, p.kind) {
        ("notify-keyspace-events", _) => keyspace_events(single()?),
        ("save", _) => save_rules(p, args, current, at_startup),
        _ => normalize_kind(p, args, current),
    }
}

/// Values Redis adjusts after validating them (`hz` is clamped, buffer sizes have
/// floors).
fn adjust(p: &Param, value: i64) -> Result<i64, ConfigError> {
    match p.name {
        "hz" => Ok(value.clamp(1, 500)),
        "proto-max-bulk-len" | "client-query-buffer-limit" if value < 1024 * 1024 => {
            Err(ConfigError::OutOfRange(1024 * 1024, i64::MAX))
        }
        "repl-backlog-size" if value < 1 => Err(ConfigError::OutOfRange(1, i64::MAX)),
        "repl-backlog-size" => Ok(value.max(16 * 1024)),
        _ => Ok(value),
    }
}

/// `save` rules: pairs of non-negative integers; `""` clears them. In a file, repeated
/// `save` lines add rules.
fn save_rules(
    p: &Param,
    args: &[String],
    current: Option<&str>,
    at_startup: bool,
) -> Result<String, ConfigError> {
    if let [one] = args {
        if one.is_empty() {
            return Ok(String::new());
        }
    }
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    let valid = words.iter().all(|w| w.parse::<i64>().is_ok_and(|v| v >= 0));
    if words.is_empty() || !words.len().is_multiple_of(2) || !valid {
        return Err(ConfigError::InvalidSave);
    }
    if at_startup {
        if let Some(cur) = current.filter(|c| *c != p.default && !c.is_empty()) {
            return Ok(format!("{cur} {}", words.join(" ")));
        }
    }
    Ok(words.join(" "))
}

/// Redis's keyspace event classes, stored in its canonical order (`KEA` → `AKE`).
fn keyspace_events(text: &str) -> Result<String, ConfigError> {
    const CLASSES: &str = "g$lshzxetdn";
    const ALL: &str = "g$lshzxetd";
    let mut set = std::collections::BTreeSet::new();
    for c in text.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            c if CLASSES.contains(c) || "KEm".contains(c) => {
                set.insert(c);
            }
            _ => return Err(ConfigError::InvalidEvents),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
    } else {
        out.extend(CLASSES.chars().filter(|c| set.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| set.contains(c)));
    Ok(out)
}

fn normalize_kind(
    p: &Param,
    args: &[String],
    current: Option<&str>,
) -> Result<String, ConfigError> {
    let single = || -> Result<&str, ConfigError> {
        match args {
            [one] => Ok(one.as_str()),
            _ => Err(ConfigError::Arity),
        }
    };
    match p.kind {
        Kind::Bool => Ok(if parse_bool(single()?)? { "yes" } else { "no" }.to_string()),
        Kind::Int { min, max } => {
            let v: i64 = single()?.parse().map_err(|_| ConfigError::NotInteger)?;
            if v < min || v > max {
                return Err(ConfigError::OutOfRange(min, max));
            }
            Ok(adjust(p, v)?.to_string())
        }
        Kind::Memory => {
            let text = single()?;
            let v = parse_memory(text).ok_or(ConfigError::NotMemory)?;
            Ok(adjust(p, v.min(i64::MAX as u64) as i64)?.to_string())
        }
        Kind::Enum(options) => {
            let v = single()?.to_ascii_lowercase();
            if options.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(ConfigError::NotInEnum(options.join(", ")))
            }
        }
        Kind::Str => Ok(single()?.to_string()),
        Kind::Words => {
            let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
            Ok(words.join(" "))
        }
        Kind::OutputLimits => {
            let mut limits = output_limits(current.unwrap_or(p.default))?;
            let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
            if words.is_empty() || !words.len().is_multiple_of(4) {
                return Err(ConfigError::BadLimitArity);
            }
            for chunk in words.chunks(4) {
                let class = class_index(chunk[0]).ok_or(ConfigError::BadLimitClass)?;
                let hard = parse_memory(chunk[1]).ok_or(ConfigError::BadLimitValue)?;
                let soft = parse_memory(chunk[2]).ok_or(ConfigError::BadLimitValue)?;
                let secs = chunk[3].parse().map_err(|_| ConfigError::BadLimitValue)?;
                limits[class] = BufferLimit {
                    hard,
                    soft,
                    soft_seconds: secs,
                };
            }
            Ok(render_limits(&limits))
        }
    }
}

fn class_index(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    }
}

fn render_limits(l: &[BufferLimit; 3]) -> String {
    let names = ["normal", "slave", "pubsub"];
    names
        .iter()
        .zip(l)
        .map(|(n, b)| format!("{n} {} {} {}", b.hard, b.soft, b.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the stored `client-output-buffer-limit` form into the three classes.
pub(super) fn output_limits(text: &str) -> Result<[BufferLimit; 3], ConfigError> {
    let mut out = [BufferLimit::default(); 3];
    let words: Vec<&str> = text.split_whitespace().collect();
    for chunk in words.chunks(4) {
        if chunk.len() != 4 {
            return Err(ConfigError::BadLimitArity);
        }
        let class = class_index(chunk[0]).ok_or(ConfigError::BadLimitClass)?;
        out[class] = BufferLimit {
            hard: parse_memory(chunk[1]).ok_or(ConfigError::BadLimitValue)?,
            soft: parse_memory(chunk[2]).ok_or(ConfigError::BadLimitValue)?,
            soft_seconds: chunk[3].parse().map_err(|_| ConfigError::BadLimitValue)?,
        };
    }
    Ok(out)
}

/// The config-file line for a parameter, quoting values that need it.
pub(super) fn render_directive(p: &Param, value: &str) -> String {
    match p.kind {
        Kind::Words | Kind::OutputLimits if !value.is_empty() => format!("{} {}\n", p.name, value),
        _ => format!("{} {}\n", p.name, quote(value)),
    }
}

fn quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
    {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

/// Loads config text line by line; returns warnings for unknown directives.
pub(super) fn load_text(cfg: &mut Config, text: &str) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |message: String| ConfigError::AtLine {
            line: i + 1,
            text: line.to_string(),
            message,
        };
        let words = resp::split_args(line.as_bytes())
            .ok_or_else(|| at("Unbalanced quotes in configuration line".into()))?;
        let words: Vec<String> = words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect();
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if find(&name).is_none() {
            warnings.push(format!(
                "Ignoring unknown directive '{name}' at line {}",
                i + 1
            ));
            continue;
        }
        cfg.set(&name, args, true).map_err(|e| at(e.to_string()))?;
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("64KB"), Some(65536));
        assert_eq!(parse_memory("12x"), None);
    }

    #[test]
    fn loads_a_redis_conf() {
        let mut c = Config::default();
        let warnings = c
            .load("# comment\nport 7001\nsave 900 1\nsave 300 10\nfoo-bar baz\nclient-output-buffer-limit pubsub 1mb 512kb 10\nrequirepass \"s3 cret\"\n")
            .unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(c.port, 7001);
        assert_eq!(c.get("save"), Some("900 1 300 10"));
        assert_eq!(
            c.output_pubsub,
            BufferLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 10
            }
        );
        assert_eq!(c.requirepass.as_deref(), Some(&b"s3 cret"[..]));
        assert!(c.load("port abc\n").is_err());
    }
}
