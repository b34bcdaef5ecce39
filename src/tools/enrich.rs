//! Readable companions added to raw osquery values (`resident_mib`,
//! `protocol_name`, `used_percent`, …), next to the originals, never instead.

use serde_json::Value;

use super::{Plan, ToolName};
use crate::osquery::Row;

/// Cuts rows to the limit and adds readable companions to raw values.
pub fn finish(plan: &Plan, mut rows: Vec<Row>) -> Vec<Row> {
    if let Some(limit) = plan.limit {
        rows.truncate(limit);
    }
    let enrich: fn(&mut Row) = match plan.tool {
        ToolName::Processes => process,
        ToolName::NetworkConnections => socket,
        ToolName::DiskUsage => mount,
        ToolName::DescribeTable => column,
        _ => return rows,
    };
    rows.iter_mut().for_each(enrich);
    rows
}

fn num(row: &Row, key: &str) -> Option<u64> {
    row.get(key)?.as_str()?.trim().parse().ok()
}

fn set(row: &mut Row, key: &str, value: String) {
    row.insert(key.to_string(), Value::String(value));
}

fn process(row: &mut Row) {
    let mib = num(row, "resident_size").map(|b| format!("{:.1}", b as f64 / 1_048_576.0));
    set(row, "resident_mib", mib.unwrap_or_default());
}

fn socket(row: &mut Row) {
    let protocol = match num(row, "protocol") {
        Some(6) => "tcp".to_string(),
        Some(17) => "udp".to_string(),
        Some(1) => "icmp".to_string(),
        Some(58) => "icmpv6".to_string(),
        Some(136) => "udplite".to_string(),
        Some(255) => "raw".to_string(),
        Some(n) => n.to_string(),
        None => String::new(),
    };
    let family = match num(row, "family") {
        Some(2) => "ipv4",
        Some(10) if cfg!(target_os = "linux") => "ipv6",
        Some(30) if cfg!(target_os = "macos") => "ipv6",
        Some(1) => "unix",
        _ => "",
    };
    set(row, "protocol_name", protocol);
    set(row, "family_name", family.to_string());
}

/// PRAGMA table_info's cid, notnull, pk and dflt_value say nothing about
/// an osquery table; only the name and type stay.
fn column(row: &mut Row) {
    row.retain(|k, _| k == "name" || k == "type");
}

fn mount(row: &mut Row) {
    let size = num(row, "blocks_size");
    let total = size
        .zip(num(row, "blocks"))
        .map(|(s, b)| s.saturating_mul(b));
    let avail = size
        .zip(num(row, "blocks_available"))
        .map(|(s, b)| s.saturating_mul(b));
    let free = size
        .zip(num(row, "blocks_free"))
        .map(|(s, b)| s.saturating_mul(b));
    // As df computes it: used / (used + available to unprivileged users).
    let used_percent = match (total, free, avail) {
        (Some(t), Some(f), Some(a)) if t > 0 => {
            let used = t.saturating_sub(f);
            let denom = used + a;
            if denom == 0 {
                String::new()
            } else {
                format!("{:.1}", used as f64 * 100.0 / denom as f64)
            }
        }
        _ => String::new(),
    };
    set(
        row,
        "total_bytes",
        total.map(|t| t.to_string()).unwrap_or_default(),
    );
    set(
        row,
        "available_bytes",
        avail.map(|a| a.to_string()).unwrap_or_default(),
    );
    set(row, "used_percent", used_percent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(tool: ToolName, limit: Option<usize>) -> Plan {
        Plan {
            tool,
            sql: String::new(),
            limit,
            pattern: None,
            table: None,
        }
    }

    fn row(v: Value) -> Row {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn companions_are_added_without_dropping_originals() {
        let rows = finish(
            &plan(ToolName::NetworkConnections, None),
            vec![
                row(json!({"protocol": "6", "family": "10"})),
                row(json!({"protocol": "17", "family": "2"})),
            ],
        );
        assert_eq!(rows[0]["protocol"], "6");
        assert_eq!(rows[0]["protocol_name"], "tcp");
        assert_eq!(rows[0]["family_name"], "ipv6");
        assert_eq!(rows[1]["protocol_name"], "udp");
        let disks = plan(ToolName::DiskUsage, None);
        let rows = finish(
            &disks,
            vec![row(
                json!({"blocks_size": "4096", "blocks": "1000", "blocks_free": "250", "blocks_available": "200"}),
            )],
        );
        assert_eq!(rows[0]["total_bytes"], "4096000");
        assert_eq!(rows[0]["available_bytes"], "819200");
        assert_eq!(rows[0]["used_percent"], "78.9");
        let rows = finish(
            &disks,
            vec![row(
                json!({"blocks_size": "0", "blocks": "0", "blocks_free": "0", "blocks_available": "0"}),
            )],
        );
        assert_eq!(rows[0]["used_percent"], "");
    }

    #[test]
    fn limit_is_enforced_on_returned_rows() {
        let rows = (0..5)
            .map(|i| row(json!({ "pid": i.to_string(), "resident_size": "1048576" })))
            .collect();
        let rows = finish(&plan(ToolName::Processes, Some(2)), rows);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["resident_mib"], "1.0");
    }
}
