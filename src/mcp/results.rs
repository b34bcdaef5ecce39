//! `tools/call` results as MCP wants them: rows once as compact JSON text and
//! once as `structuredContent.rows`; failures as `isError` with one
//! `Error: …` text. Which rows go into one answer is decided in `pages`.
//!
//! A 10 MB answer must cost about its own size, not many copies of it: after
//! a counting pass sizes the buffer exactly, the rows are serialised straight
//! into the one buffer that becomes the message (`structuredContent` first),
//! the rows are freed (unless a held snapshot keeps them for the next
//! pages), and the text item is escaped from that same buffer. No
//! intermediate string of the rows exists, and the exactly sized buffer
//! becomes the `RawValue` without another copy.

use std::borrow::Borrow;
use std::io::Write;
use std::ops::Range;

use serde_json::Value;
use serde_json::value::RawValue;

use super::era::Era;
use crate::osquery::Table;
use crate::tools::{Outcome, StructuredMeta};

const HEAD: &[u8] = b"{\"structuredContent\":{\"rows\":";
const TEXT: &[u8] = b"},\"content\":[{\"type\":\"text\",\"text\":\"";
const NOTE: &[u8] = b"\"},{\"type\":\"text\",\"text\":";
const TAIL: &[u8] = b"],\"isError\":false";

/// The largest result we send. The TypeScript SDK gives up on a line over
/// 10 MiB, losing the answer; the margin leaves room for the envelope.
pub const MAX_RESULT_BYTES: usize = 10 * 1024 * 1024 - 64 * 1024;

/// The result of one call, before it becomes a message.
#[derive(Clone)]
pub struct Answer {
    pub result: Box<RawValue>,
    pub outcome: Outcome,
}

/// Rows `range` of `table` as a successful result. Takes the table by value
/// (owned, or a shared snapshot) so that an owned one is freed as soon as
/// it is written. `era` adds the members its revision requires (see
/// [`Era::tool_result_members`]).
///
/// Pages are cut so that their rows fit twice; should a single row not fit
/// twice in [`MAX_RESULT_BYTES`], the text item says where the rows are
/// instead of repeating them (MCP asks for the text copy only as a SHOULD);
/// when even one copy would not fit, the call fails with an error that says
/// how to narrow it.
pub fn success(
    table: impl Borrow<Table>,
    range: Range<usize>,
    meta: &StructuredMeta,
    note: Option<&str>,
    era: Era,
) -> Box<RawValue> {
    success_within(table, range, meta, note, era, MAX_RESULT_BYTES)
}

fn success_within(
    table: impl Borrow<Table>,
    range: Range<usize>,
    meta: &StructuredMeta,
    note: Option<&str>,
    era: Era,
    budget: usize,
) -> Box<RawValue> {
    let rows = table.borrow().slice(range);
    let mut size = Count::default();
    if serde_json::to_writer(&mut size, &rows).is_err() {
        return error("internal error serialising the rows", era);
    }
    let members = era.tool_result_members();
    // The note is its own content item so the first one stays pure JSON.
    let note = note.map(|n| Value::String(n.to_string()).to_string());
    // The metadata's members, appended after `rows` inside structuredContent.
    let fields = match serde_json::to_string(meta) {
        Ok(object) => format!(",{}", &object[1..object.len() - 1]),
        Err(_) => return error("internal error serialising the rows", era),
    };
    let frame = HEAD.len()
        + size.raw
        + fields.len()
        + TEXT.len()
        + note.as_ref().map_or(2, |n| NOTE.len() + n.len() + 1)
        + TAIL.len()
        + members.len()
        + 1;
    let summary = (frame + size.raw + size.escapes > budget).then(|| {
        let text = format!(
            "{} rows ({} bytes of JSON) are in structuredContent.rows only: with a text copy the answer would exceed the {} MiB an MCP message may carry. Add a LIMIT or select fewer columns to get them as text too.",
            rows.len(),
            size.raw,
            (budget >> 20) + 1
        );
        let quoted = Value::String(text).to_string();
        quoted[1..quoted.len() - 1].to_string()
    });
    let exact = frame
        + summary
            .as_ref()
            .map_or(size.raw + size.escapes, String::len);
    if exact > budget {
        return error(
            &format!(
                "the answer would be {exact} bytes, more than the {} MiB an MCP message may carry; add a LIMIT or select fewer columns",
                (budget >> 20) + 1
            ),
            era,
        );
    }
    // Reserved, not yet touched: memory is only used as it is written.
    let mut body = Vec::with_capacity(exact);
    body.extend_from_slice(HEAD);
    let written = serde_json::to_writer(&mut body, &rows);
    drop(table);
    crate::memory::freed(size.raw);
    if written.is_err() {
        return error("internal error serialising the rows", era);
    }
    let rows_json = HEAD.len()..body.len();
    body.extend_from_slice(fields.as_bytes());
    body.extend_from_slice(TEXT);
    match &summary {
        Some(text) => body.extend_from_slice(text.as_bytes()),
        None => {
            // The text item is the same JSON, escaped: copied from the body
            // itself in small pieces, so the rows are never held twice
            // outside it.
            let mut piece = [0u8; 8192];
            for start in rows_json.clone().step_by(piece.len()) {
                let end = (start + piece.len()).min(rows_json.end);
                let chunk = &mut piece[..end - start];
                chunk.copy_from_slice(&body[start..end]);
                escape_into(&mut body, chunk);
            }
        }
    }
    match &note {
        Some(n) => {
            body.extend_from_slice(NOTE);
            body.extend_from_slice(n.as_bytes());
            body.push(b'}');
        }
        None => body.extend_from_slice(b"\"}"),
    }
    body.extend_from_slice(TAIL);
    body.extend_from_slice(members.as_bytes());
    body.push(b'}');
    debug_assert_eq!(body.len(), exact, "size pass and writing pass disagree");
    match String::from_utf8(body) {
        Ok(body) => raw(body),
        Err(_) => error("internal error serialising the rows", era),
    }
}

/// Counts what serialising writes, and how many bytes escaping it as a JSON
/// string adds.
#[derive(Default)]
pub(super) struct Count {
    pub raw: usize,
    pub escapes: usize,
}

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.raw += buf.len();
        self.escapes += buf
            .iter()
            .map(|&b| escape(b).len().saturating_sub(1))
            .sum::<usize>();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends JSON text as the inside of a JSON string.
fn escape_into(out: &mut Vec<u8>, mut rest: &[u8]) {
    while let Some(i) = rest.iter().position(|&b| !escape(b).is_empty()) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(escape(rest[i]).as_bytes());
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// What replaces a byte inside a JSON string (empty: the byte is kept). serde_json's output holds no raw control characters, but the
/// escaping must not depend on that.
fn escape(b: u8) -> &'static str {
    const CONTROL: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
        "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];
    match b {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        0..=0x1f => CONTROL[b as usize],
        _ => "",
    }
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
    use crate::osquery::parse_rows;
    use serde_json::json;

    fn table(rows: Value) -> Table {
        parse_rows(rows.to_string().as_bytes()).expect("an array of objects of strings")
    }

    fn all(rows: Value, note: Option<&str>, era: Era, budget: usize) -> Value {
        let t = table(rows);
        let n = t.len();
        let body = success_within(t, 0..n, &StructuredMeta::default(), note, era, budget);
        serde_json::from_str(body.get()).expect("valid")
    }

    #[test]
    fn success_carries_rows_twice_and_meta() {
        let meta = StructuredMeta {
            row_count: 1,
            ..StructuredMeta::default()
        };
        let t = table(json!([{"a": "1", "b": "x\"y\n"}]));
        let v: Value =
            serde_json::from_str(success(t, 0..1, &meta, None, Era::Legacy).get()).expect("valid");
        assert_eq!(v["isError"], false);
        assert_eq!(v["structuredContent"]["rows"][0]["b"], "x\"y\n");
        assert_eq!(v["structuredContent"]["row_count"], 1);
        let text: Value =
            serde_json::from_str(v["content"][0]["text"].as_str().unwrap_or_default())
                .expect("text is JSON");
        assert_eq!(text, v["structuredContent"]["rows"]);
    }

    #[test]
    fn a_range_of_a_shared_table_leaves_the_table() {
        let t = table(json!([{"n": "0"}, {"n": "1"}, {"n": "2"}]));
        let v: Value = serde_json::from_str(
            success(&t, 1..3, &StructuredMeta::default(), None, Era::Legacy).get(),
        )
        .expect("valid");
        assert_eq!(
            v["structuredContent"]["rows"],
            json!([{"n": "1"}, {"n": "2"}])
        );
        assert_eq!(t.len(), 3);
    }

    fn rows_of(n: usize) -> Value {
        (0..n)
            .map(|i| json!({"n": i.to_string(), "pad": "x".repeat(100)}))
            .collect()
    }

    #[test]
    fn results_over_the_message_limit_keep_one_copy_or_fail_clearly() {
        // 10 rows of ~120 bytes: ~1.2 KB once, ~2.5 KB twice.
        let both = all(rows_of(10), None, Era::Legacy, 4000);
        assert!(
            both["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with('['))
        );
        let one = all(rows_of(10), Some("n"), Era::Legacy, 2000);
        assert_eq!(one["isError"], false);
        assert_eq!(
            one["structuredContent"]["rows"].as_array().map(Vec::len),
            Some(10)
        );
        let text = one["content"][0]["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("10 rows (") && text.contains("structuredContent.rows only"),
            "{text}"
        );
        assert_eq!(one["content"][1]["text"], "n");
        let none = all(rows_of(10), None, Era::Legacy, 1000);
        assert_eq!(none["isError"], true);
        let text = none["content"][0]["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("add a LIMIT") && text.contains("MCP message"),
            "{text}"
        );
        for r in [&both, &one, &none] {
            assert!(r.to_string().len() <= 4000);
        }
    }

    #[test]
    fn text_escaping_matches_serde_for_awkward_values() {
        let rows = json!([{"q": "\"\\/\u{1}\u{1f}\n\té ünï \u{2028} 🦀", "k\"ey": ""}]);
        let expected_text = serde_json::to_string(&rows).expect("rows serialise");
        let v = all(rows.clone(), Some("n"), Era::Legacy, MAX_RESULT_BYTES);
        assert_eq!(v["content"][0]["text"], expected_text.as_str());
        assert_eq!(v["content"][1]["text"], "n");
        assert_eq!(v["structuredContent"]["rows"], rows);
    }

    #[test]
    fn notes_precede_the_rows_in_text() {
        let v = all(json!([]), Some("showing 0"), Era::Legacy, MAX_RESULT_BYTES);
        assert_eq!(v["content"][0]["text"], "[]");
        assert_eq!(v["content"][1]["text"], "showing 0");
    }

    #[test]
    fn modern_results_say_they_are_complete() {
        let modern = Era::Modern { log_level: None };
        for v in [
            all(json!([]), Some("note"), modern, MAX_RESULT_BYTES),
            all(json!([{"a": "1"}]), None, modern, MAX_RESULT_BYTES),
            serde_json::from_str(error("x", modern).get()).expect("valid"),
        ] {
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
