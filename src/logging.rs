//! Logs: one JSON object per line on stderr, through env_logger with our own
//! format. stdout belongs to the protocol, so nothing here may ever touch it.
//!
//! Fields: `timestamp` (RFC 3339 UTC, milliseconds), `level`, `logger`,
//! `message`, then any key-values the call site attached (tool calls add
//! `tool`, `duration_ms`, `response_size`, `outcome`).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::kv::{Key, Value as KvValue, VisitSource};
use serde_json::{Map, Value};

pub fn init(level: log::LevelFilter) {
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .target(env_logger::Target::Stderr)
        .format(|buf, record| {
            let line = render(record);
            buf.write_all(line.as_bytes())?;
            buf.write_all(b"\n")
        })
        .try_init();
}

fn render(record: &log::Record<'_>) -> String {
    let mut obj = Map::new();
    obj.insert("timestamp".into(), Value::String(rfc3339_now()));
    obj.insert("level".into(), Value::String(record.level().to_string()));
    obj.insert(
        "logger".into(),
        Value::String(record.module_path().unwrap_or(record.target()).to_string()),
    );
    obj.insert("message".into(), Value::String(record.args().to_string()));
    let mut fields = Fields(&mut obj);
    let _ = record.key_values().visit(&mut fields);
    Value::Object(obj).to_string()
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: KvValue<'kvs>) -> Result<(), log::kv::Error> {
        let v = if let Some(n) = value.to_u64() {
            Value::from(n)
        } else if let Some(n) = value.to_i64() {
            Value::from(n)
        } else if let Some(b) = value.to_bool() {
            Value::from(b)
        } else {
            Value::String(value.to_string())
        };
        self.0.insert(key.as_str().to_string(), v);
        Ok(())
    }
}

pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_millis())
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` with std only.
pub fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_632_798, 123), "2026-11-25T18:53:18.123Z");
        assert_eq!(rfc3339(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn records_render_as_one_json_object() {
        let kvs: &[(&str, &str)] = &[("tool", "processes")];
        let record = log::Record::builder()
            .args(format_args!("tool call \"done\"\n"))
            .level(log::Level::Info)
            .module_path(Some("mcp_osquery_server::pool"))
            .key_values(&kvs)
            .build();
        let line = render(&record);
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["logger"], "mcp_osquery_server::pool");
        assert_eq!(v["message"], "tool call \"done\"\n");
        assert_eq!(v["tool"], "processes");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
