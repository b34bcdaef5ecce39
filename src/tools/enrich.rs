//! Readable companions added to raw osquery values (`resident_mib`,
//! `protocol_name`, `used_percent`, …), next to the originals, never instead.

use super::{Plan, ToolName};
use crate::osquery::{RowRef, Table, TableBuilder};

/// Cuts rows to the limit and adds readable companions to raw values.
pub fn finish(plan: &Plan, mut rows: Table) -> Table {
    if let Some(limit) = plan.limit {
        rows.truncate(limit);
    }
    let companions: fn(RowRef) -> Vec<(&'static str, String)> = match plan.tool {
        ToolName::Processes => process,
        ToolName::NetworkConnections => socket,
        ToolName::DiskUsage => mount,
        ToolName::DescribeTable => return columns(&rows),
        _ => return rows,
    };
    // The tools with companions answer at most a few thousand rows.
    let mut out = TableBuilder::new();
    for row in rows.rows() {
        let added = companions(row);
        let added = added.iter().map(|(k, v)| (*k, v.as_str()));
        out.push_row(row.cells().chain(added));
    }
    out.finish().unwrap_or(rows)
}

/// PRAGMA table_info's cid, notnull, pk and dflt_value say nothing about
/// an osquery table; only the name and type stay.
fn columns(rows: &Table) -> Table {
    let mut out = TableBuilder::new();
    for row in rows.rows() {
        out.push_row(row.cells().filter(|(k, _)| *k == "name" || *k == "type"));
    }
    out.finish().unwrap_or_default()
}

fn num(row: RowRef, key: &str) -> Option<u64> {
    row.get(key)?.trim().parse().ok()
}

fn process(row: RowRef) -> Vec<(&'static str, String)> {
    let mib = num(row, "resident_size").map(|b| format!("{:.1}", b as f64 / 1_048_576.0));
    vec![("resident_mib", mib.unwrap_or_default())]
}

fn socket(row: RowRef) -> Vec<(&'static str, String)> {
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
    vec![
        ("protocol_name", protocol),
        ("family_name", family.to_string()),
    ]
}

fn mount(row: RowRef) -> Vec<(&'static str, String)> {
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
    vec![
        (
            "total_bytes",
            total.map(|t| t.to_string()).unwrap_or_default(),
        ),
        (
            "available_bytes",
            avail.map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("used_percent", used_percent),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn plan(tool: ToolName, limit: Option<usize>) -> Plan {
        Plan {
            tool,
            sql: String::new(),
            limit,
            pattern: None,
            table: None,
        }
    }

    fn table(rows: Value) -> Table {
        let mut b = TableBuilder::new();
        for r in rows.as_array().into_iter().flatten() {
            let cells = r.as_object().into_iter().flatten();
            b.push_row(cells.map(|(k, v)| (k, v.as_str().unwrap_or_default())));
        }
        b.finish().expect("small")
    }

    fn json_of(t: &Table) -> Value {
        serde_json::to_value(t).expect("rows serialise")
    }

    #[test]
    fn companions_are_added_without_dropping_originals() {
        let rows = json_of(&finish(
            &plan(ToolName::NetworkConnections, None),
            table(json!([{"protocol": "6", "family": "10"}, {"protocol": "17", "family": "2"}])),
        ));
        assert_eq!(
            rows,
            json!([
                {"family": "10", "family_name": "ipv6", "protocol": "6", "protocol_name": "tcp"},
                {"family": "2", "family_name": "ipv4", "protocol": "17", "protocol_name": "udp"},
            ])
        );
        let disks = plan(ToolName::DiskUsage, None);
        let rows = json_of(&finish(
            &disks,
            table(
                json!([{"blocks_size": "4096", "blocks": "1000", "blocks_free": "250", "blocks_available": "200"}]),
            ),
        ));
        assert_eq!(rows[0]["total_bytes"], "4096000");
        assert_eq!(rows[0]["available_bytes"], "819200");
        assert_eq!(rows[0]["used_percent"], "78.9");
        let rows = json_of(&finish(
            &disks,
            table(
                json!([{"blocks_size": "0", "blocks": "0", "blocks_free": "0", "blocks_available": "0"}]),
            ),
        ));
        assert_eq!(rows[0]["used_percent"], "");
    }

    #[test]
    fn limit_is_enforced_on_returned_rows() {
        let rows: Vec<Value> = (0..5)
            .map(|i| json!({ "pid": i.to_string(), "resident_size": "1048576" }))
            .collect();
        let rows = finish(&plan(ToolName::Processes, Some(2)), table(json!(rows)));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.row(1).get("pid"), Some("1"));
        assert_eq!(rows.row(0).get("resident_mib"), Some("1.0"));
    }

    #[test]
    fn describe_table_keeps_name_and_type() {
        let rows = finish(
            &plan(ToolName::DescribeTable, None),
            table(
                json!([{"cid": "0", "name": "pid", "notnull": "0", "pk": "1", "type": "BIGINT"}]),
            ),
        );
        assert_eq!(json_of(&rows), json!([{"name": "pid", "type": "BIGINT"}]));
    }
}
