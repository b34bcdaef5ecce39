//! `tools/call` results as MCP wants them: rows once as compact JSON text and
//! once as `structuredContent.rows`; failures as `isError` with one
//! `Error: …` text.
//!
//! Rows are serialised exactly once; the envelope embeds that text twice (as a
//! JSON string and as raw JSON) without building a second value tree, so a
//! 10 MB answer costs a few copies of itself, not dozens.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::modern::Era;
use crate::osquery::Row;

/// Extra fields of `structuredContent` besides `rows`.
pub type Meta = Map<String, Value>;

/// `era` adds the members its revision requires (see [`Era::tool_result_members`]).
pub fn success(rows: &[Row], meta: &Meta, note: Option<&str>, era: Era) -> Box<RawValue> {
    let rows_json = serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_string());
    let text_json = serde_json::to_string(&rows_json).unwrap_or_else(|_| "\"[]\"".to_string());
    // The note is its own content item so the first one stays pure JSON.
    let note = match note {
        Some(n) => format!(
            ",{{\"type\":\"text\",\"text\":{}}}",
            Value::String(n.to_string())
        ),
        None => String::new(),
    };
    let mut structured = String::with_capacity(rows_json.len() + 64);
    structured.push_str("{\"rows\":");
    structured.push_str(&rows_json);
    for (k, v) in meta {
        structured.push(',');
        structured.push_str(&Value::String(k.clone()).to_string());
        structured.push(':');
        structured.push_str(&v.to_string());
    }
    structured.push('}');
    drop(rows_json);
    let body = format!(
        "{{\"content\":[{{\"type\":\"text\",\"text\":{text_json}}}{note}],\"structuredContent\":{structured},\"isError\":false{}}}",
        era.tool_result_members()
    );
    raw(body)
}

pub fn error(message: &str, era: Era) -> Box<RawValue> {
    let text = Value::String(format!("Error: {message}")).to_string();
    raw(format!(
        "{{\"content\":[{{\"type\":\"text\",\"text\":{text}}}],\"isError\":true{}}}",
        era.tool_result_members()
    ))
}

fn raw(body: String) -> Box<RawValue> {
    // The body is assembled from serde_json output and fixed punctuation, so it
    // is valid JSON; the fallback keeps the one-answer-per-request promise.
    RawValue::from_string(body).unwrap_or_else(|_| {
        RawValue::from_string(
            "{\"content\":[{\"type\":\"text\",\"text\":\"Error: internal error building the result\"}],\"isError\":true}"
                .to_string(),
        )
        .expect("constant JSON is valid")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_carries_rows_twice_and_meta() {
        let rows: Vec<Row> = vec![
            json!({"a": "1", "b": "x\"y\n"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ];
        let mut meta = Meta::new();
        meta.insert("row_count".into(), json!(1));
        let v: Value =
            serde_json::from_str(success(&rows, &meta, None, Era::Legacy).get()).expect("valid");
        assert_eq!(v["isError"], false);
        assert_eq!(v["structuredContent"]["rows"][0]["b"], "x\"y\n");
        assert_eq!(v["structuredContent"]["row_count"], 1);
        let text: Value =
            serde_json::from_str(v["content"][0]["text"].as_str().unwrap_or_default())
                .expect("text is JSON");
        assert_eq!(text, v["structuredContent"]["rows"]);
    }

    #[test]
    fn notes_precede_the_rows_in_text() {
        let v: Value =
            serde_json::from_str(success(&[], &Meta::new(), Some("showing 0"), Era::Legacy).get())
                .expect("valid");
        assert_eq!(v["content"][0]["text"], "[]");
        assert_eq!(v["content"][1]["text"], "showing 0");
    }

    #[test]
    fn modern_results_say_they_are_complete() {
        let modern = Era::Modern { log_level: None };
        for body in [
            success(&[], &Meta::new(), Some("note"), modern),
            error("x", modern),
        ] {
            let v: Value = serde_json::from_str(body.get()).expect("valid");
            assert_eq!(v["resultType"], "complete", "{v}");
            assert!(v["content"].is_array());
        }
    }

    #[test]
    fn errors_are_tool_results() {
        let v: Value =
            serde_json::from_str(error("limit must be \"x\"", Era::Legacy).get()).expect("valid");
        assert_eq!(v["isError"], true);
        assert_eq!(v["content"][0]["text"], "Error: limit must be \"x\"");
        assert!(v.get("structuredContent").is_none());
    }
}
