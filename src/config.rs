//! The environment, read once at start-up into a validated [`Config`], and
//! what is fixed by design: the server's identity and its sizes.
//!
//! An invalid value stops start-up with one line naming the variable and the
//! accepted range (exit status 2): a server that silently fell back to a default
//! would run on a production host with limits nobody chose.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// Who we are: the one identity the handshake, every stateless result's
/// `_meta`, the health report and `--version` give.
#[derive(Debug, Serialize)]
pub struct ServerInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub version: &'static str,
}

pub const SERVER: ServerInfo = ServerInfo {
    name: env!("CARGO_PKG_NAME"),
    title: "osquery (read-only)",
    version: env!("CARGO_PKG_VERSION"),
};

/// Fixed by design: at most this many osqueryi processes at once.
pub const WORKERS: usize = 5;
/// Tool calls that may wait for a worker; beyond this a call is answered "busy".
pub const QUEUE_CAPACITY: usize = 64;
/// The longest custom_query the server accepts, in characters.
pub const MAX_SQL_CHARS: usize = 10_000;

/// One setting the server reads from its environment: the parser below
/// reads exactly these (a test checks), and `--help` lists them.
pub struct Setting {
    pub name: &'static str,
    /// As `--help` shows it.
    pub default: &'static str,
    pub help: &'static str,
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "OSQUERY_PATH",
        default: "search",
        help: "osqueryi binary (default: PATH, then /usr/local/bin, /usr/bin, /opt/osquery/bin)",
    },
    Setting {
        name: "OSQUERY_TIMEOUT",
        default: "30",
        help: "seconds per query (1-3600)",
    },
    Setting {
        name: "MAX_RESPONSE_SIZE",
        default: "10485760",
        help: "bytes of osqueryi output or osqueryd reply per query (1024-1073741824)",
    },
    Setting {
        name: "RATE_LIMIT",
        default: "60",
        help: "tool calls per minute, 0 = off",
    },
    Setting {
        name: "LOG_LEVEL",
        default: "info",
        help: "error, warn, info, debug, trace (JSON lines on stderr)",
    },
    Setting {
        name: "OSQUERY_DENY_TABLES",
        default: "built-in list",
        help: "comma-separated tables custom_query may not read",
    },
    Setting {
        name: "OSQUERY_ALLOW_TABLES",
        default: "unset",
        help: "comma-separated tables; when set, the only ones custom_query may read",
    },
    Setting {
        name: "REDACT",
        default: "1",
        help: "0 to stop masking values that look like secrets",
    },
    Setting {
        name: "OSQUERY_NICE",
        default: "10",
        help: "niceness of osqueryi, 0 = unchanged",
    },
    Setting {
        name: "OSQUERY_MEMORY_LIMIT",
        default: "1024",
        help: "MiB of address space for osqueryi, 0 = none",
    },
    Setting {
        name: "OSQUERY_CPU_LIMIT",
        default: "the timeout",
        help: "CPU seconds for osqueryi, 0 = none",
    },
    Setting {
        name: "OSQUERY_BACKEND",
        default: "osqueryi",
        help: "osqueryi (a process per query), daemon (osqueryd's socket) or hybrid (event tables through the socket)",
    },
    Setting {
        name: "OSQUERY_SOCKET",
        default: DEFAULT_SOCKET,
        help: "osqueryd's extensions socket, for OSQUERY_BACKEND=daemon or hybrid",
    },
];

/// Where osqueryd listens unless told otherwise (its `--extensions_socket`).
pub const DEFAULT_SOCKET: &str = "/var/osquery/osquery.em";

/// Which backend answers queries (`OSQUERY_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A contained osqueryi process per query.
    Osqueryi,
    /// Every query through osqueryd's extensions socket.
    Daemon,
    /// Queries that read event tables through the socket, the rest osqueryi.
    Hybrid,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Osqueryi => "osqueryi",
            Backend::Daemon => "daemon",
            Backend::Hybrid => "hybrid",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `OSQUERY_PATH` when set; otherwise the binary is searched per call.
    pub osquery_path: Option<PathBuf>,
    pub timeout: Duration,
    pub max_response_size: usize,
    /// Tool calls per minute; 0 turns the limit off.
    pub rate_limit: u32,
    pub log_level: log::LevelFilter,
    pub deny_tables: Option<Vec<String>>,
    pub allow_tables: Option<Vec<String>>,
    pub redact: bool,
    /// Niceness osqueryi runs at (0 = unchanged).
    pub child_nice: i32,
    /// Address-space limit of osqueryi in bytes (0 = none).
    pub child_memory_bytes: u64,
    /// CPU-time limit of osqueryi in seconds; `None` = the timeout, 0 = none.
    pub child_cpu_seconds: Option<u64>,
    pub backend: Backend,
    /// osqueryd's extensions socket (used by the daemon and hybrid backends).
    pub socket: PathBuf,
}

#[derive(Debug, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let timeout = match set("OSQUERY_TIMEOUT") {
            None => 30,
            Some(v) => parse_int(&v, "OSQUERY_TIMEOUT", 1, 3600, "seconds")?,
        };
        let max_response_size = match set("MAX_RESPONSE_SIZE") {
            None => 10 * 1024 * 1024,
            Some(v) => parse_int(&v, "MAX_RESPONSE_SIZE", 1024, 1 << 30, "bytes")?,
        };
        let rate_limit = match set("RATE_LIMIT") {
            None => 60,
            Some(v) => parse_int(
                &v,
                "RATE_LIMIT",
                0,
                100_000,
                "tool calls per minute, 0 = off",
            )?,
        };
        let log_level = match set("LOG_LEVEL") {
            None => log::LevelFilter::Info,
            Some(v) => parse_level(&v)?,
        };
        let redact = match set("REDACT").as_deref().map(str::trim) {
            None | Some("1") | Some("true") | Some("on") => true,
            Some("0") | Some("false") | Some("off") => false,
            Some(other) => {
                return Err(ConfigError(format!(
                    "REDACT={other:?} is invalid: use 1 (default, mask secrets) or 0"
                )));
            }
        };
        let child_nice = match set("OSQUERY_NICE") {
            None => 10,
            Some(v) => parse_int(
                &v,
                "OSQUERY_NICE",
                0,
                19,
                "niceness of osqueryi, 0 = unchanged",
            )?,
        };
        let child_memory_mib = match set("OSQUERY_MEMORY_LIMIT") {
            None => 1024,
            Some(v) => parse_int(
                &v,
                "OSQUERY_MEMORY_LIMIT",
                0,
                1 << 20,
                "MiB of address space for osqueryi, 0 = none",
            )?,
        };
        let child_cpu_seconds = match set("OSQUERY_CPU_LIMIT") {
            None => None,
            Some(v) => Some(parse_int(
                &v,
                "OSQUERY_CPU_LIMIT",
                0,
                86_400,
                "CPU seconds for osqueryi, 0 = none",
            )?),
        };
        let backend = match set("OSQUERY_BACKEND").map(|v| v.trim().to_ascii_lowercase()) {
            None => Backend::Osqueryi,
            Some(v) if v == "osqueryi" => Backend::Osqueryi,
            Some(v) if v == "daemon" => Backend::Daemon,
            Some(v) if v == "hybrid" => Backend::Hybrid,
            Some(v) => {
                return Err(ConfigError(format!(
                    "OSQUERY_BACKEND={v:?} is invalid: expected osqueryi, daemon or hybrid"
                )));
            }
        };
        let socket = set("OSQUERY_SOCKET").unwrap_or_else(|| DEFAULT_SOCKET.to_string());
        // A UNIX socket address holds at most 107 bytes of path; a longer one
        // could never connect, so say so now rather than on every call.
        if socket.len() > 107 {
            return Err(ConfigError(format!(
                "OSQUERY_SOCKET is invalid: {} bytes, but a socket path holds at most 107",
                socket.len()
            )));
        }
        Ok(Config {
            backend,
            socket: PathBuf::from(socket),
            child_nice: child_nice as i32,
            child_memory_bytes: child_memory_mib << 20,
            child_cpu_seconds,
            osquery_path: get("OSQUERY_PATH")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            timeout: Duration::from_secs(timeout),
            max_response_size: max_response_size as usize,
            rate_limit: rate_limit as u32,
            log_level,
            deny_tables: set("OSQUERY_DENY_TABLES")
                .map(|v| parse_tables(&v, "OSQUERY_DENY_TABLES"))
                .transpose()?,
            allow_tables: set("OSQUERY_ALLOW_TABLES")
                .map(|v| parse_tables(&v, "OSQUERY_ALLOW_TABLES"))
                .transpose()?,
            redact,
        })
    }
}

fn parse_int(raw: &str, name: &str, min: u64, max: u64, unit: &str) -> Result<u64, ConfigError> {
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError(format!(
            "{name}={raw:?} is invalid: expected an integer from {min} to {max} ({unit})"
        ))),
    }
}

fn parse_level(raw: &str) -> Result<log::LevelFilter, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(log::LevelFilter::Error),
        "warn" | "warning" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        "trace" => Ok(log::LevelFilter::Trace),
        _ => Err(ConfigError(format!(
            "LOG_LEVEL={raw:?} is invalid: expected one of error, warn, info, debug, trace"
        ))),
    }
}

fn parse_tables(raw: &str, name: &str) -> Result<Vec<String>, ConfigError> {
    let mut tables = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ok = part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ConfigError(format!(
                "{name} contains {part:?}: expected comma-separated table names (letters, digits, _)"
            )));
        }
        tables.push(part.to_ascii_lowercase());
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_parser_reads_exactly_the_listed_settings() {
        let asked = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|k| {
            asked.borrow_mut().push(k.to_string());
            None
        })
        .expect("defaults are valid");
        let mut asked = asked.into_inner();
        asked.sort();
        asked.dedup();
        let mut listed: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        listed.sort();
        assert_eq!(asked, listed);
    }

    #[test]
    fn defaults() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.max_response_size, 10_485_760);
        assert_eq!(c.rate_limit, 60);
        assert_eq!(c.log_level, log::LevelFilter::Info);
        assert!(c.redact && c.osquery_path.is_none() && c.deny_tables.is_none());
        assert_eq!(c.backend, Backend::Osqueryi);
        assert_eq!(c.socket, PathBuf::from("/var/osquery/osquery.em"));
    }

    #[test]
    fn backends_are_named_in_any_case() {
        for (v, want) in [
            ("osqueryi", Backend::Osqueryi),
            ("Daemon", Backend::Daemon),
            (" hybrid ", Backend::Hybrid),
        ] {
            let c = config(&[("OSQUERY_BACKEND", v)]).expect(v);
            assert_eq!(c.backend, want);
            assert_eq!(c.backend.as_str(), v.trim().to_ascii_lowercase());
        }
        let c = config(&[("OSQUERY_SOCKET", "/run/osquery/em")]).expect("valid");
        assert_eq!(c.socket, PathBuf::from("/run/osquery/em"));
    }

    #[test]
    fn invalid_values_name_the_variable_and_range() {
        for (k, v) in [
            ("OSQUERY_TIMEOUT", "0"),
            ("OSQUERY_TIMEOUT", "abc"),
            ("OSQUERY_TIMEOUT", "-5"),
            ("MAX_RESPONSE_SIZE", "12"),
            ("RATE_LIMIT", "1.5"),
            ("LOG_LEVEL", "verbose"),
            ("REDACT", "maybe"),
            ("OSQUERY_DENY_TABLES", "curl;shadow"),
            ("OSQUERY_BACKEND", "osqueryd"),
            ("OSQUERY_SOCKET", "/x".repeat(60).as_str()),
        ] {
            let err = config(&[(k, v)]).expect_err(v);
            assert!(err.0.starts_with(k), "{err}");
        }
    }

    #[test]
    fn levels_are_case_insensitive_and_tables_are_listed() {
        let c = config(&[
            ("LOG_LEVEL", "DEBUG"),
            ("OSQUERY_ALLOW_TABLES", "processes, Users,,"),
            ("RATE_LIMIT", "0"),
        ])
        .expect("valid");
        assert_eq!(c.log_level, log::LevelFilter::Debug);
        assert_eq!(
            c.allow_tables,
            Some(vec!["processes".into(), "users".into()])
        );
        assert_eq!(c.rate_limit, 0);
    }
}
