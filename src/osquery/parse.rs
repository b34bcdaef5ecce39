//! Reading what osqueryi printed: its `--json` rows, its glog warnings, and
//! the reason it gives when it fails.
//!
//! The rows are parsed as they are read, straight into a [`Table`]: osqueryi's
//! output is never held whole. The parser reads any JSON array of objects
//! whose values are strings (osqueryi's own layout, `[\n  {…},\n  {…}\n]\n`,
//! is only the common case), decodes every escape, and replaces bytes that
//! are not UTF-8 (osquery passes them through raw) and lone surrogate
//! escapes with U+FFFD rather than failing. Anything else is not osqueryi's
//! output and fails the query.

use std::io::{ErrorKind, Read};

use super::RunError;
use super::table::{Table, TableBuilder, TooLarge};

/// Parses osqueryi's `--json` output from `input` as it arrives.
pub fn parse_rows(input: impl Read) -> Result<Table, RunError> {
    let mut p = Parser {
        input,
        buf: vec![0; 64 * 1024],
        pos: 0,
        len: 0,
        consumed: 0,
        table: TableBuilder::new(),
        key: Vec::new(),
    };
    match p.document() {
        Ok(()) => p
            .table
            .finish()
            .map_err(|TooLarge| RunError::Failed("the rows hold more than 4 GiB of text".into())),
        Err(Syntax::Empty) => Err(RunError::Failed("osqueryi printed no output".into())),
        Err(Syntax::Bad(why)) => Err(RunError::Failed(format!(
            "output is not a JSON array of objects of strings ({why} at byte {})",
            p.consumed + p.pos
        ))),
    }
}

enum Syntax {
    /// Nothing but whitespace.
    Empty,
    Bad(&'static str),
}

struct Parser<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Bytes before `buf`, for error positions.
    consumed: usize,
    table: TableBuilder,
    /// The key being read, reused from cell to cell.
    key: Vec<u8>,
}

impl<R: Read> Parser<R> {
    fn document(&mut self) -> Result<(), Syntax> {
        match self.skip_ws() {
            None => return Err(Syntax::Empty),
            Some(b'[') => self.pos += 1,
            Some(_) => return Err(Syntax::Bad("expected `[`")),
        }
        if self.skip_ws() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                if self.skip_ws() != Some(b'{') {
                    return Err(Syntax::Bad("expected an object"));
                }
                self.pos += 1;
                self.object()?;
                match self.next_token() {
                    Some(b',') => {}
                    Some(b']') => break,
                    _ => return Err(Syntax::Bad("expected `,` or `]`")),
                }
            }
        }
        match self.skip_ws() {
            None => Ok(()),
            Some(_) => Err(Syntax::Bad("text after the array")),
        }
    }

    /// After `{`: the cells up to and including `}`.
    fn object(&mut self) -> Result<(), Syntax> {
        if self.skip_ws() == Some(b'}') {
            self.pos += 1;
            self.table.end_row();
            return Ok(());
        }
        loop {
            if self.next_token() != Some(b'"') {
                return Err(Syntax::Bad("expected a key"));
            }
            let mut key = std::mem::take(&mut self.key);
            key.clear();
            self.string(&mut key)?;
            self.table.key(&String::from_utf8_lossy(&key));
            self.key = key;
            if self.next_token() != Some(b':') {
                return Err(Syntax::Bad("expected `:`"));
            }
            if self.next_token() != Some(b'"') {
                return Err(Syntax::Bad("expected a string value"));
            }
            let mut value = std::mem::take(self.table.value());
            let read = self.string(&mut value);
            *self.table.value() = value;
            read?;
            self.table.end_cell();
            match self.next_token() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(Syntax::Bad("expected `,` or `}`")),
            }
        }
        self.table.end_row();
        Ok(())
    }

    /// After the opening quote: the string's bytes, decoded, up to and
    /// including the closing quote.
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), Syntax> {
        loop {
            if !self.fill() {
                return Err(Syntax::Bad("unterminated string"));
            }
            let chunk = &self.buf[self.pos..self.len];
            match chunk
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            {
                None => {
                    out.extend_from_slice(chunk);
                    self.pos = self.len;
                }
                Some(i) => {
                    out.extend_from_slice(&chunk[..i]);
                    let special = chunk[i];
                    self.pos += i + 1;
                    match special {
                        b'"' => return Ok(()),
                        b'\\' => self.escape(out)?,
                        _ => return Err(Syntax::Bad("control character in a string")),
                    }
                }
            }
        }
    }

    /// After a backslash.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), Syntax> {
        let simple = match self.next_byte() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode(out),
            _ => return Err(Syntax::Bad("invalid escape")),
        };
        push_char(out, simple);
        Ok(())
    }

    /// After `\u`: one code point, or a surrogate pair.
    fn unicode(&mut self, out: &mut Vec<u8>) -> Result<(), Syntax> {
        let mut unit = self.hex4()?;
        loop {
            if !(0xD800..0xDC00).contains(&unit) {
                push_char(out, char::from_u32(unit).unwrap_or('\u{fffd}'));
                return Ok(());
            }
            // A high surrogate: a low one must follow as `\uDC00`-`\uDFFF`.
            if self.peek() != Some(b'\\') {
                push_char(out, '\u{fffd}');
                return Ok(());
            }
            self.pos += 1;
            if self.peek() != Some(b'u') {
                push_char(out, '\u{fffd}');
                return self.escape(out);
            }
            self.pos += 1;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                push_char(out, char::from_u32(c).unwrap_or('\u{fffd}'));
                return Ok(());
            }
            push_char(out, '\u{fffd}');
            unit = low;
        }
    }

    fn hex4(&mut self) -> Result<u32, Syntax> {
        let mut n = 0;
        for _ in 0..4 {
            let digit = self
                .next_byte()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or(Syntax::Bad("invalid \\u escape"))?;
            n = n * 16 + digit;
        }
        Ok(n)
    }

    /// The next byte after whitespace, consumed.
    fn next_token(&mut self) -> Option<u8> {
        let b = self.skip_ws()?;
        self.pos += 1;
        Some(b)
    }

    /// The next byte that is not JSON whitespace, not consumed.
    fn skip_ws(&mut self) -> Option<u8> {
        loop {
            let b = self.peek()?;
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn peek(&mut self) -> Option<u8> {
        if self.fill() {
            Some(self.buf[self.pos])
        } else {
            None
        }
    }

    /// Makes at least one unread byte available; false at the end of input.
    /// A read error ends the input: the parse then fails on what is missing.
    fn fill(&mut self) -> bool {
        while self.pos >= self.len {
            self.consumed += self.len;
            self.pos = 0;
            self.len = 0;
            match self.input.read(&mut self.buf) {
                Ok(0) => return false,
                Ok(n) => self.len = n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// True for glog's `W1125 18:53:18.123456 12345 file.cpp:12] msg` lines.
fn is_glog(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 5
        && matches!(b[0], b'I' | b'W' | b'E' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
}

pub(super) fn glog_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| is_glog(l))
        .map(|l| match l.split_once("] ") {
            Some((_, msg)) => msg.to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// The first useful line of stderr: osquery's `Error: …` line if there is one,
/// else a glog error, else any line, else the exit status.
pub(super) fn failure_reason(stderr: &str, code: Option<i32>) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("Error: ")
                .or_else(|| l.strip_prefix("ERROR: "))
        })
        .map(str::to_string)
        .or_else(|| {
            lines
                .iter()
                .find(|l| is_glog(l) && (l.starts_with('E') || l.starts_with('F')))
                .map(|l| glog_lines(l).concat())
        })
        .or_else(|| lines.first().map(|l| l.to_string()));
    let status = code.map_or_else(
        || "unknown status".to_string(),
        |c| format!("exit status {c}"),
    );
    match pick {
        Some(line) => format!("{} ({status})", truncate(&line, 500)),
        None => status,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(super) fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        24 => " (SIGXCPU: CPU-time limit)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::{Value, json};

    fn rows(bytes: &[u8]) -> Value {
        serde_json::to_value(parse_rows(bytes).expect("valid output")).expect("serialises")
    }

    /// Hands out one byte per read, so every token crosses a buffer edge.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(out)) => {
                    *out = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn parses_osquery_json_exactly() {
        let out = b"[\n  {\"a\":\"1\",\"b\":\"x\"},\n  {\"a\":\"2\",\"b\":\"y\"}\n]\n";
        assert_eq!(
            rows(out),
            json!([{"a": "1", "b": "x"}, {"a": "2", "b": "y"}])
        );
        let t = parse_rows(&out[..]).expect("valid");
        assert_eq!((t.len(), t.row(1).get("b")), (2, Some("y")));
        assert!(parse_rows(&b"[\n\n]\n"[..]).expect("empty").is_empty());
        // Any layout of the same JSON is the same table.
        assert_eq!(
            parse_rows(&b" [ { \"b\" : \"x\" , \"a\" : \"1\" } ,{\"a\":\"2\",\"b\":\"y\"}]"[..])
                .map(|t| t.row(0).cells().count()),
            Ok(2)
        );
    }

    #[test]
    fn escapes_are_decoded_across_any_read_boundary() {
        let out = br#"[{"k\"\\\/":"\b\f\n\r\t\u0001\u00e9\u00E9 \ud83e\udd80 \u2028"}]"#;
        let want = json!([{"k\"\\/": "\u{8}\u{c}\n\r\t\u{1}éé 🦀 \u{2028}"}]);
        assert_eq!(rows(out), want);
        let trickled = parse_rows(Trickle(out)).expect("valid in one-byte reads");
        assert_eq!(serde_json::to_value(trickled).expect("serialises"), want);
    }

    #[test]
    fn invalid_utf8_and_lone_surrogates_become_replacement_characters() {
        assert_eq!(
            rows(b"[\n  {\"a\":\"x\xffy\"}\n]\n"),
            json!([{"a": "x\u{fffd}y"}])
        );
        // A character split across reads is still one character.
        let t = parse_rows(Trickle("[{\"a\":\"é🦀\"}]".as_bytes())).expect("valid");
        assert_eq!(t.row(0).get("a"), Some("é🦀"));
        assert_eq!(
            rows(br#"[{"a":"\ud800x","b":"\udc00","c":"\ud800\u0041","d":"\ud800\n"}]"#),
            json!([{"a": "\u{fffd}x", "b": "\u{fffd}", "c": "\u{fffd}A", "d": "\u{fffd}\n"}])
        );
        assert_eq!(rows(b"[{\"\xff\":\"v\"}]"), json!([{"\u{fffd}": "v"}]));
    }

    #[test]
    fn rows_with_other_columns_keep_exactly_their_own_cells() {
        // Two statements' rows merged, as osqueryi prints them.
        assert_eq!(
            rows(b"[\n  {\"a\":\"1\"},\n  {\"b\":\"2\"}\n]\n"),
            json!([{"a": "1"}, {"b": "2"}])
        );
        let uneven = json!([
            {"a": "1", "b": "2"},
            {},
            {"c": "3", "a": "4"},
            {"a": "5", "b": "6"},
        ]);
        let t = parse_rows(uneven.to_string().as_bytes()).expect("valid");
        assert_eq!(serde_json::to_value(&t).expect("serialises"), uneven);
        assert_eq!((t.row(2).get("c"), t.row(2).get("b")), (Some("3"), None));
        // The last of a repeated key wins, as in any JSON object.
        assert_eq!(rows(br#"[{"a":"1","a":"2"}]"#), json!([{"a": "2"}]));
    }

    #[test]
    fn rejects_what_is_not_an_array_of_objects_of_strings() {
        for bad in [
            &b"this is not json"[..],
            b"{\"a\":\"1\"}",
            b"[1,2]",
            b"[{\"a\":1}]",
            b"[{\"a\":null}]",
            b"[{\"a\":[\"1\"]}]",
            b"[\n  {\"a\":",
            b"[{\"a\":\"1\"}",
            b"[{\"a\":\"1\"},]",
            b"[{\"a\":\"1\"}] x",
            b"[{\"a\":\"x\ny\"}]",
            b"[{\"a\":\"\\x\"}]",
            b"[{\"a\":\"\\u12\"}]",
            b"[{\"a\" \"1\"}]",
        ] {
            match parse_rows(bad) {
                Err(RunError::Failed(why)) => {
                    assert!(
                        why.starts_with("output is not a JSON array of objects of strings ("),
                        "{why}"
                    )
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
        for empty in [&b""[..], b" \n"] {
            assert_eq!(
                parse_rows(empty),
                Err(RunError::Failed("osqueryi printed no output".into()))
            );
        }
    }

    #[test]
    fn failure_reason_prefers_the_error_line() {
        let stderr = "W1125 18:53:18.123456 12 virtual_table.cpp:1] Table file was queried\nError: Table file was queried without a required column in the WHERE clause\n";
        assert_eq!(
            failure_reason(stderr, Some(19)),
            "Table file was queried without a required column in the WHERE clause (exit status 19)"
        );
        let stderr = "E1125 18:53:18.123456 12 sqlite_util.cpp:1] Authorizer denied action 24\nError: not authorized\n";
        assert_eq!(
            failure_reason(stderr, Some(23)),
            "not authorized (exit status 23)"
        );
        assert_eq!(failure_reason("", Some(78)), "exit status 78");
        assert_eq!(
            failure_reason("ERROR: unknown command line flag 'x'\n", Some(1)),
            "unknown command line flag 'x' (exit status 1)"
        );
    }

    #[test]
    fn glog_lines_become_warnings() {
        let w = glog_lines(
            "W1125 18:53:18.123456 12 virtual_table.cpp:1] events are disabled\nplain\n",
        );
        assert_eq!(w, vec!["events are disabled".to_string()]);
    }
}
