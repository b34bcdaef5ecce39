//! The `cursor` argument every tool takes: the `next_cursor` of an earlier
//! answer, asking for the next page of that result instead of a new run
//! (see `mcp::pages`). With a cursor no other argument is needed, so the
//! schemas say so.

use serde_json::{Map, Value, json};

const HELP: &str = "To get the next page of a result too large for one answer: the next_cursor of that answer, alone. Omit it to run the tool.";

/// Takes `cursor` out of the arguments: `Some` when a page is asked for.
/// Absent, null or empty means no cursor.
pub fn take_cursor(args: &mut Map<String, Value>) -> Result<Option<String>, String> {
    match args.remove("cursor") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) if c.is_empty() => Ok(None),
        Some(Value::String(c)) => Ok(Some(c)),
        Some(_) => Err("cursor must be a string: the next_cursor of an earlier answer".into()),
    }
}

/// Adds `cursor` to a tool's input schema. A call with a cursor needs no
/// other argument, so arguments required for a run say so in their
/// description instead of in `required` (a validating client must accept a
/// call with the cursor alone).
pub fn with_cursor(mut schema: Value) -> Value {
    let Some(obj) = schema.as_object_mut() else {
        return schema;
    };
    let required = match obj.get_mut("required") {
        Some(Value::Array(r)) => std::mem::take(r),
        _ => Vec::new(),
    };
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for name in required.iter().filter_map(Value::as_str) {
            if let Some(Value::String(d)) =
                props.get_mut(name).and_then(|p| p.get_mut("description"))
            {
                d.push_str(" Required unless `cursor` is given.");
            }
        }
        props.insert(
            "cursor".into(),
            json!({ "type": "string", "description": HELP }),
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_a_non_empty_string_and_leaves_the_arguments() {
        let mut args = Map::new();
        args.insert("cursor".into(), json!("abc"));
        args.insert("sql".into(), json!("SELECT 1"));
        assert_eq!(take_cursor(&mut args), Ok(Some("abc".into())));
        assert!(!args.contains_key("cursor") && args.contains_key("sql"));
        for none in [json!(""), json!(null)] {
            let mut args = Map::from_iter([("cursor".to_string(), none)]);
            assert_eq!(take_cursor(&mut args), Ok(None));
        }
        let mut args = Map::from_iter([("cursor".to_string(), json!(5))]);
        assert!(take_cursor(&mut args).is_err());
    }

    #[test]
    fn required_arguments_move_to_their_descriptions() {
        let s = with_cursor(json!({
            "type": "object",
            "properties": {"sql": {"type": "string", "description": "SQL."}},
            "required": ["sql"],
        }));
        assert_eq!(s["required"], json!([]));
        assert_eq!(
            s["properties"]["sql"]["description"],
            "SQL. Required unless `cursor` is given."
        );
        assert_eq!(s["properties"]["cursor"]["type"], "string");
    }
}
