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
        "inputSchema": input_schema(tool),
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

/// One JSON type per value, so clients that map schemas onto a single-type
/// dialect (Gemini's OpenAPI subset) keep the tool and its range. The server
/// still accepts `10.0` and `"10"` (see `plan`); the schema names the one
/// spelling a client should send.
fn integer_schema(description: &str, min: i64, max: i64, default: Option<i64>) -> Value {
    let mut s = json!({
        "type": "integer",
        "description": description,
        "minimum": min,
        "maximum": max,
    });
    if let (Some(d), Some(obj)) = (default, s.as_object_mut()) {
        obj.insert("default".into(), json!(d));
    }
    s
}

/// The arguments a tool takes, and no others: `plan` refuses the rest.
fn input_schema(tool: &Tool) -> Value {
    let properties: Map<String, Value> = tool
        .takes()
        .map(|arg| (arg.to_string(), property(tool.name, arg)))
        .collect();
    // A call with `cursor` alone asks for a page and needs nothing else, so
    // what a run requires (custom_query's sql, describe_table's table) is
    // said in its description, not in `required`: a client that validates
    // must accept the cursor alone.
    json!({
        "type": "object",
        "properties": properties,
        "required": [],
        "additionalProperties": false,
    })
}

/// The schema of one argument of one tool (`{}`, which a test forbids, for an
/// argument without one).
fn property(tool: ToolName, arg: &str) -> Value {
    match (tool, arg) {
        (ToolName::Processes, "limit") => integer_schema(
            "How many processes to return, largest resident memory first (default 10).",
            1,
            LIMIT_MAX,
            Some(10),
        ),
        (ToolName::NetworkConnections, "limit") => integer_schema(
            "How many sockets to return (default 20).",
            1,
            LIMIT_MAX,
            Some(20),
        ),
        (ToolName::InstalledPackages, "limit") => integer_schema(
            "How many packages to return (default 100).",
            1,
            LIMIT_MAX,
            Some(100),
        ),
        (ToolName::OpenFiles, "pid") => integer_schema(
            "Only files of this process id; all processes when omitted.",
            1,
            PID_MAX,
            None,
        ),
        (ToolName::InstalledPackages, "name") => json!({
            "type": "string",
            "description": "Only packages whose name contains this text (case-insensitive), e.g. \"ssl\"; with % or _ it is an SQL LIKE pattern for the whole name, e.g. \"lib%\".",
            "maxLength": PATTERN_MAX,
            "pattern": "^[A-Za-z0-9._+:@%-]*$",
        }),
        (ToolName::DiskUsage, "all") => json!({
            "type": "boolean",
            "description": "Also list pseudo filesystems with no blocks and read-only images (default false).",
            "default": false,
        }),
        (ToolName::ListTables, "pattern") => json!({
            "type": "string",
            "description": "Only tables whose name contains this text (letters, digits, _; case-insensitive), e.g. \"docker\" or \"package\".",
            "maxLength": PATTERN_MAX,
            "pattern": "^[A-Za-z0-9_]*$",
        }),
        (ToolName::DescribeTable, "table") => json!({
            "type": "string",
            "description": "An osquery table name, as list_tables gives it. Required unless `cursor` is given.",
            "minLength": 1,
            "maxLength": 64,
            "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        }),
        (ToolName::CustomQuery, "sql") => json!({
            "type": "string",
            "description": "One read-only osquery SQL statement: SELECT … or WITH … SELECT … Required unless `cursor` is given.",
            "minLength": 1,
            "maxLength": crate::guard::MAX_QUERY_CHARS,
        }),
        (_, "cursor") => super::cursor::schema(),
        _ => json!({}),
    }
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
            ToolName::DescribeTable => {
                p.insert(
                    "table".into(),
                    json!({
                        "type": "object",
                        "description": "osquery's rules for the table, from its published specs (absent when they do not know it).",
                        "properties": {
                            "name": { "type": "string", "description": "osquery's name for the table." },
                            "event": { "type": "boolean", "description": "An event table: rows only under osqueryd with events enabled." },
                            "required": {
                                "type": "array",
                                "items": { "type": "string" },
                                "description": "WHERE must constrain at least one of these columns.",
                            },
                            "indexed": {
                                "type": "array",
                                "items": { "type": "string" },
                                "description": "Constraints on these columns are looked up by the table itself (cheap).",
                            },
                            "user_data": { "type": "boolean", "description": "Only the current user's rows unless the query constrains uid." },
                        },
                        "required": ["name", "event", "required", "indexed", "user_data"],
                    }),
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

    #[test]
    fn input_schemas_are_portable_and_closed() {
        for tool in TOOLS {
            let schema = input_schema(tool);
            assert_eq!(schema["additionalProperties"], false, "{}", tool.id);
            let props = schema["properties"].as_object().expect("properties");
            let names: Vec<&str> = props.keys().map(String::as_str).collect();
            let mut want: Vec<&str> = tool.takes().collect();
            want.sort();
            assert_eq!(
                names, want,
                "{}: properties are the arguments plan takes",
                tool.id
            );
            for (name, p) in props {
                assert!(
                    p["type"].is_string(),
                    "{}.{name}: one type, not {}",
                    tool.id,
                    p["type"]
                );
                assert!(p.get("anyOf").is_none() && p.get("oneOf").is_none());
                assert!(p["description"].is_string(), "{}.{name}", tool.id);
            }
        }
    }
}
