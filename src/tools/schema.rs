//! What `tools/list` says about each tool: its input schema (the arguments
//! [`super::plan()`] accepts), its output schema (the rows and metadata a
//! result carries) and its annotations.

use serde_json::{Map, Value, json};

use super::{LIMIT_MAX, PATTERN_MAX, PID_MAX, TOOLS, Tool, ToolName};

/// The `tools/list` result.
pub fn list() -> Value {
    let tools: Vec<Value> = TOOLS.iter().map(describe).collect();
    json!({ "tools": tools })
}

fn describe(tool: &Tool) -> Value {
    json!({
        "name": tool.id,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": super::cursor::with_cursor(input_schema(tool.name)),
        "outputSchema": output_schema(tool),
        "annotations": {
            "title": tool.title,
            "readOnlyHint": true,
            "destructiveHint": false,
            "idempotentHint": true,
            "openWorldHint": false,
        },
    })
}

/// Integers may come as JSON integers, integral floats or numeric strings, so
/// the schema says so: a client that validates must accept all of them.
fn integer_schema(description: &str, min: i64, max: i64, default: Option<i64>) -> Value {
    let mut s = json!({
        "type": ["integer", "string"],
        "description": description,
        "minimum": min,
        "maximum": max,
        "pattern": "^\\s*[+]?[0-9]+(\\.0*)?\\s*$",
    });
    if let (Some(d), Some(obj)) = (default, s.as_object_mut()) {
        obj.insert("default".into(), json!(d));
    }
    s
}

fn input_schema(name: ToolName) -> Value {
    let properties = match name {
        ToolName::Processes => json!({
            "limit": integer_schema("How many processes to return, largest resident memory first (default 10).", 1, LIMIT_MAX, Some(10)),
        }),
        ToolName::NetworkConnections => json!({
            "limit": integer_schema("How many sockets to return (default 20).", 1, LIMIT_MAX, Some(20)),
        }),
        ToolName::OpenFiles => json!({
            "pid": integer_schema("Only files of this process id; all processes when omitted.", 1, PID_MAX, None),
        }),
        ToolName::ListTables => json!({
            "pattern": {
                "type": "string",
                "description": "Only tables whose name contains this text (letters, digits, _; case-insensitive), e.g. \"docker\" or \"package\".",
                "maxLength": PATTERN_MAX,
                "pattern": "^[A-Za-z0-9_]*$",
            },
        }),
        ToolName::DescribeTable => json!({
            "table": {
                "type": "string",
                "description": "An osquery table name, as list_tables gives it.",
                "minLength": 1,
                "maxLength": 64,
                "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
            },
        }),
        ToolName::CustomQuery => json!({
            "sql": {
                "type": "string",
                "description": "One read-only osquery SQL statement: SELECT … or WITH … SELECT …",
                "minLength": 1,
                "maxLength": crate::config::MAX_SQL_CHARS,
            },
        }),
        _ => json!({}),
    };
    let required: Vec<&str> = match name {
        ToolName::CustomQuery => vec!["sql"],
        ToolName::DescribeTable => vec!["table"],
        _ => vec![],
    };
    json!({ "type": "object", "properties": properties, "required": required })
}

fn output_schema(tool: &Tool) -> Value {
    let row = if tool.name == ToolName::CustomQuery {
        json!({ "type": "object", "additionalProperties": true })
    } else {
        let props: Map<String, Value> = tool
            .fields
            .iter()
            .map(|f| (f.to_string(), json!({ "type": "string" })))
            .collect();
        json!({ "type": "object", "properties": props, "required": tool.required })
    };
    let mut properties = json!({
        "rows": { "type": "array", "items": row },
        "row_count": { "type": "integer", "description": "Rows returned (in this page, when paged)." },
        "truncated": { "type": "boolean", "description": "True when more rows exist than `limit` allowed." },
        "elapsed_ms": { "type": "integer", "description": "Time osqueryi took, in milliseconds." },
        "next_cursor": { "type": "string", "description": "Paged results: pass it as `cursor` for the next page; absent on the last page." },
        "page": { "type": "integer", "description": "Paged results: which page this is, from 1." },
        "total_rows": { "type": "integer", "description": "Paged results: rows in all pages together." },
    });
    if let Some(p) = properties.as_object_mut() {
        match tool.name {
            ToolName::CustomQuery => {
                p.insert(
                    "sql".into(),
                    json!({ "type": "string", "description": "The SQL that ran." }),
                );
            }
            ToolName::InstalledPackages | ToolName::RunningServices => {
                p.insert(
                    "sources".into(),
                    json!({
                        "type": "array",
                        "items": { "type": "string" },
                        "description": "The osquery tables the rows came from: the ones this host's osquery has.",
                    }),
                );
            }
            _ => {}
        }
    }
    json!({ "type": "object", "properties": properties, "required": ["rows"] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_described_for_strict_clients() {
        let list = list();
        let tools = list["tools"].as_array().expect("array");
        assert_eq!(tools.len(), 12);
        for t in tools {
            assert_eq!(t["inputSchema"]["type"], "object", "{}", t["name"]);
            assert_eq!(t["outputSchema"]["type"], "object");
            assert!(t["description"].as_str().is_some_and(|d| d.len() > 20));
            assert_eq!(t["annotations"]["readOnlyHint"], true);
            assert_eq!(t["annotations"]["destructiveHint"], false);
            assert_eq!(t["annotations"]["openWorldHint"], false);
        }
    }
}
