//! The `cursor` argument every tool takes (see [`super::EVERY_TOOL_ARGUMENTS`]):
//! the `next_cursor` of an earlier answer, asking for the next page of that
//! result instead of a new run (see `mcp::pages`). With a cursor no other
//! argument is needed, so no tool's schema requires one.

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

/// `cursor` in every tool's input schema.
pub fn schema() -> Value {
    json!({ "type": "string", "description": HELP })
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
}
