//! The settings, read once at start-up from command-line flags and the
//! environment into a validated [`Config`], and what is fixed by design: the
//! server's identity and its sizes.
//!
//! Every setting is an environment variable and a flag derived from its name
//! ([`Setting::flag`]); a flag wins. Flags exist for hosts where sudo passes
//! no environment: a sudoers rule can pin the exact argument list.
//!
//! An invalid value stops start-up with one line naming the flag or variable
//! it came from and the accepted range (exit status 2): a server that silently
//! fell back to a default would run on a production host with limits nobody
//! chose.

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

/// One setting: the parser below reads exactly these (a test checks), each
/// from its flag or its variable, and `--help` lists them.
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
        name: "MAX_TEXT_BYTES",
        default: "80000",
        help: "bytes of text in one answer; larger results come in pages (4096-10485760)",
    },
    Setting {
        name: "MAX_HELD_BYTES",
        default: "67108864",
        help: "bytes of results held for their next pages, all together (65536-1073741824)",
    },
    Setting {
        name: "RATE_LIMIT",
        default: "60",
        help: "tool calls per minute, 0 = off (pages of a held result do not count)",
    },
    Setting {
        name: "LOG_LEVEL",
        default: "info",
        help: "error, warn, info, debug, trace (JSON lines on stderr)",
    },
    Setting {
        name: "OSQUERY_DENY_TABLES",
        default: "built-in list",
        help: "comma-separated tables custom_query may not read, added to the built-in list; -name re-opens a built-in one (logged as a warning)",
    },
    Setting {
        name: "OSQUERY_ALLOW_TABLES",
        default: "unset",
        help: "comma-separated tables; when set, the only ones custom_query may read",
    },
    Setting {
        name: "REDACT",
        default: "1",
        help: "0 (or false, no, off) to stop masking values that look like secrets",
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

/// Settings whose flag keeps the `OSQUERY_` prefix: `--path` would not say
/// whose path.
const FLAG_KEEPS_PREFIX: &[&str] = &["OSQUERY_PATH"];

impl Setting {
    /// The flag: the name in kebab case, without the `OSQUERY_` prefix that
    /// only namespaces the environment (`OSQUERY_TIMEOUT` → `--timeout`,
    /// `RATE_LIMIT` → `--rate-limit`), except where that would be unclear
    /// (`--osquery-path`).
    pub fn flag(&self) -> String {
        let base = match self.name.strip_prefix("OSQUERY_") {
            Some(rest) if !FLAG_KEEPS_PREFIX.contains(&self.name) => rest,
            _ => self.name,
        };
        format!("--{}", base.to_ascii_lowercase().replace('_', "-"))
    }
}

/// Settings given as flags, by setting name, in the order given.
#[derive(Debug, Default, PartialEq)]
pub struct Flags(Vec<(&'static str, String)>);

impl Flags {
    /// Takes the setting flags out of `args`, in either form (`--timeout 60`,
    /// `--timeout=60`) and anywhere among them; returns the other arguments in
    /// their order. A flag without a value, or given twice, is an error naming
    /// it. A separate value may not start with `--`: that is the next flag, and
    /// the value is missing.
    pub fn take(args: &[String]) -> Result<(Flags, Vec<String>), ConfigError> {
        let mut flags = Flags::default();
        let mut rest = Vec::new();
        let mut args = args.iter().peekable();
        while let Some(arg) = args.next() {
            let (key, inline) = match arg.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (arg.as_str(), None),
            };
            let Some(setting) = SETTINGS
                .iter()
                .find(|s| key.starts_with("--") && s.flag() == key)
            else {
                rest.push(arg.clone());
                continue;
            };
            let value = match inline {
                Some(v) => Some(v.to_string()),
                None => args.next_if(|v| !v.starts_with("--")).cloned(),
            };
            let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
                return Err(ConfigError(format!(
                    "{key} needs a value: {}",
                    setting.help
                )));
            };
            if flags.get(setting.name).is_some() {
                return Err(ConfigError(format!("{key} is given twice")));
            }
            flags.0.push((setting.name, value));
        }
        Ok((flags, rest))
    }

    /// The value given for the setting named `name` (`OSQUERY_TIMEOUT`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// How the operator gave the setting named `name`: its flag when one was
    /// given, else its variable.
    pub fn given_as(&self, name: &str) -> String {
        match SETTINGS.iter().find(|s| s.name == name) {
            Some(s) if self.get(name).is_some() => s.flag(),
            _ => name.to_string(),
        }
    }

    /// An error about a setting names the flag when the value came from it:
    /// every message starts with the variable's name (a test checks).
    fn name_the_flag(&self, e: ConfigError) -> ConfigError {
        for (name, _) in &self.0 {
            if let Some(rest) = e.0.strip_prefix(name)
                && rest.starts_with(['=', ' '])
            {
                return ConfigError(format!("{}{rest}", self.given_as(name)));
            }
        }
        e
    }
}

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
    /// The text one answer may carry; larger results are paged.
    pub max_text_bytes: usize,
    /// Result snapshots held for paging, in bytes, all together.
    pub max_held_bytes: usize,
    /// Tool calls per minute; 0 turns the limit off.
    pub rate_limit: u32,
    pub log_level: log::LevelFilter,
    /// Changes to the built-in deny list: `name` adds, `-name` re-opens.
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
    /// The configuration from `flags`, then the variables `env` gives
    /// (`std::env::var`; tests pass a map).
    pub fn from_flags_and(
        flags: &Flags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| flags.get(k).map(str::to_string).or_else(|| env(k)))
            .map_err(|e| flags.name_the_flag(e))
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
        let max_text_bytes = match set("MAX_TEXT_BYTES") {
            None => 80_000,
            Some(v) => parse_int(&v, "MAX_TEXT_BYTES", 4096, 10 << 20, "bytes")?,
        };
        let max_held_bytes = match set("MAX_HELD_BYTES") {
            None => 64 << 20,
            Some(v) => parse_int(&v, "MAX_HELD_BYTES", 64 << 10, 1 << 30, "bytes")?,
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
        let redact = match set("REDACT") {
            None => true,
            Some(v) => parse_bool(&v, "REDACT")?,
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
            max_text_bytes: max_text_bytes as usize,
            max_held_bytes: max_held_bytes as usize,
            rate_limit: rate_limit as u32,
            log_level,
            deny_tables: set("OSQUERY_DENY_TABLES")
                .map(|v| parse_tables(&v, "OSQUERY_DENY_TABLES", true))
                .transpose()?,
            allow_tables: set("OSQUERY_ALLOW_TABLES")
                .map(|v| parse_tables(&v, "OSQUERY_ALLOW_TABLES", false))
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

/// The usual spellings, any case.
fn parse_bool(raw: &str, name: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError(format!(
            "{name}={raw:?} is invalid: use 1, true, yes or on, or 0, false, no or off (any case)"
        ))),
    }
}

/// Comma-separated table names; with `reopen`, a name may start with `-`
/// (OSQUERY_DENY_TABLES: re-open a built-in entry).
fn parse_tables(raw: &str, name: &str, reopen: bool) -> Result<Vec<String>, ConfigError> {
    let mut tables: Vec<String> = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let table = if reopen {
            part.strip_prefix('-').unwrap_or(part)
        } else {
            part
        };
        let ok = !table.is_empty() && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            let expected = if reopen {
                "comma-separated table names (letters, digits, _), each -name re-opening a built-in one"
            } else if table.starts_with('-') {
                "comma-separated table names; -name re-opens a denied table only in OSQUERY_DENY_TABLES (--deny-tables)"
            } else {
                "comma-separated table names (letters, digits, _)"
            };
            return Err(ConfigError(format!(
                "{name} contains {part:?}: expected {expected}"
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
        assert_eq!((c.max_text_bytes, c.max_held_bytes), (80_000, 64 << 20));
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
            ("MAX_TEXT_BYTES", "4095"),
            ("MAX_HELD_BYTES", "1073741825"),
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

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn with_flags(list: &[&str], vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let (flags, rest) = Flags::take(&args(list))?;
        assert!(rest.is_empty(), "{rest:?}");
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_flags_and(&flags, |k| map.get(k).cloned())
    }

    #[test]
    fn every_setting_has_a_distinct_kebab_case_flag() {
        let flags: Vec<String> = SETTINGS.iter().map(Setting::flag).collect();
        let flag = |name: &str| SETTINGS.iter().find(|s| s.name == name).map(Setting::flag);
        assert_eq!(flag("OSQUERY_PATH").as_deref(), Some("--osquery-path"));
        assert_eq!(flag("OSQUERY_TIMEOUT").as_deref(), Some("--timeout"));
        assert_eq!(
            flag("MAX_RESPONSE_SIZE").as_deref(),
            Some("--max-response-size")
        );
        assert_eq!(
            flag("OSQUERY_DENY_TABLES").as_deref(),
            Some("--deny-tables")
        );
        for f in &flags {
            assert!(f.starts_with("--") && !f.contains('_'), "{f}");
            assert!(!["--help", "--health", "--version", "--table"].contains(&f.as_str()));
        }
        let mut unique = flags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), flags.len(), "{flags:?}");
    }

    #[test]
    fn flags_take_both_forms_anywhere_and_leave_the_rest_in_order() {
        let (flags, rest) = Flags::take(&args(&[
            "--timeout",
            "60",
            "call",
            "processes",
            "--rate-limit=5",
            "{\"limit\":3}",
            "--table",
            "--osquery-path=/opt/osquery/bin/osqueryd",
        ]))
        .expect("valid");
        assert_eq!(rest, ["call", "processes", "{\"limit\":3}", "--table"]);
        assert_eq!(flags.get("OSQUERY_TIMEOUT"), Some("60"));
        assert_eq!(flags.get("RATE_LIMIT"), Some("5"));
        assert_eq!(flags.get("OSQUERY_PATH"), Some("/opt/osquery/bin/osqueryd"));
        // A value may hold `=` and start with `-` (a re-open).
        let (flags, _) = Flags::take(&args(&["--deny-tables", "-shadow,users"])).expect("valid");
        assert_eq!(flags.get("OSQUERY_DENY_TABLES"), Some("-shadow,users"));
    }

    #[test]
    fn flags_win_over_the_environment() {
        let c = with_flags(
            &["--timeout", "60", "--redact=off"],
            &[
                ("OSQUERY_TIMEOUT", "5"),
                ("RATE_LIMIT", "7"),
                ("REDACT", "1"),
            ],
        )
        .expect("valid");
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(c.rate_limit, 7);
        assert!(!c.redact);
        let c = with_flags(
            &["--osquery-path", "/x/osqueryi"],
            &[("OSQUERY_PATH", "/y")],
        );
        assert_eq!(
            c.expect("valid").osquery_path,
            Some(PathBuf::from("/x/osqueryi"))
        );
    }

    #[test]
    fn a_missing_repeated_or_invalid_flag_value_is_one_line_naming_the_flag() {
        for (list, says) in [
            (
                &["--timeout"][..],
                "--timeout needs a value: seconds per query",
            ),
            (&["--timeout="], "--timeout needs a value"),
            (&["--timeout", " "], "--timeout needs a value"),
            (
                &["--osquery-path", "--timeout", "5"],
                "--osquery-path needs a value",
            ),
            (&["--redact", "1", "--redact=0"], "--redact is given twice"),
            (
                &["--timeout", "abc"],
                "--timeout=\"abc\" is invalid: expected an integer from 1 to 3600",
            ),
            (
                &["--redact", "maybe"],
                "--redact=\"maybe\" is invalid: use 1, true, yes or on",
            ),
            (&["--log-level=loud"], "--log-level=\"loud\" is invalid"),
            (&["--deny-tables", "a;b"], "--deny-tables contains \"a;b\""),
            (
                &["--allow-tables", "-users"],
                "--allow-tables contains \"-users\": expected comma-separated table names; -name re-opens",
            ),
        ] {
            let err = with_flags(list, &[]).expect_err(says);
            assert!(err.0.starts_with(says), "{list:?}: {err}");
            assert!(!err.0.contains('\n'), "{err}");
        }
        // The environment's own errors still name the variable.
        let err = with_flags(&[], &[("OSQUERY_TIMEOUT", "abc")]).expect_err("invalid");
        assert!(err.0.starts_with("OSQUERY_TIMEOUT=\"abc\""), "{err}");
    }

    #[test]
    fn redact_takes_the_usual_boolean_spellings_in_any_case() {
        for (v, on) in [
            ("1", true),
            ("TRUE", true),
            ("Yes", true),
            ("on", true),
            (" 0 ", false),
            ("false", false),
            ("NO", false),
            ("Off", false),
        ] {
            assert_eq!(config(&[("REDACT", v)]).expect(v).redact, on, "{v}");
        }
        let err = config(&[("REDACT", "2")]).expect_err("2");
        for spelling in ["1", "true", "yes", "on", "0", "false", "no", "off"] {
            assert!(err.0.contains(spelling), "{err}");
        }
    }

    #[test]
    fn deny_entries_may_re_open_and_allow_entries_may_not() {
        let c = config(&[("OSQUERY_DENY_TABLES", "-Shell_History, users")]).expect("valid");
        assert_eq!(
            c.deny_tables,
            Some(vec!["-shell_history".into(), "users".into()])
        );
        for bad in ["-", "--shadow", "-a b"] {
            assert!(config(&[("OSQUERY_DENY_TABLES", bad)]).is_err(), "{bad}");
        }
        assert!(config(&[("OSQUERY_ALLOW_TABLES", "-users")]).is_err());
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
