//! A small SQLite tokenizer for the `custom_query` guard.
//!
//! The guard must see a query the way SQLite will, so this follows SQLite's own
//! `sqlite3GetToken` (tokenize.c) character classes rather than a generic SQL
//! grammar: only ASCII space, tab, newline, form feed and carriage return are
//! whitespace (a byte-order mark at a token start also counts), every byte
//! `>= 0x80` is an identifier character, and anything SQLite would call
//! `TK_ILLEGAL` (an unterminated string, `!` alone, a stray `\`, a vertical tab,
//! `1abc`, a malformed blob) is a lexing error here. Where the two could
//! disagree, the guard would be reasoning about a different query than the one
//! osqueryi runs; keeping them identical is the whole point of this module.

use std::fmt;

/// What a token is. Trivia (whitespace and comments) is kept so callers can
/// tell "nothing but comments" apart from "empty".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Spaces, tabs, newlines, form feeds, carriage returns and byte-order marks.
    Whitespace,
    /// `-- …` up to (not including) the newline.
    LineComment,
    /// `/* … */`; an unterminated one runs to the end, as in SQLite.
    BlockComment,
    /// A bare word: keyword or identifier (SQLite decides which by context).
    Ident,
    /// `"…"`, `` `…` `` or `[…]`.
    QuotedIdent,
    /// `'…'` with `''` escapes.
    String,
    /// Integer, real or hex literal.
    Number,
    /// `x'…'` / `X'…'`.
    Blob,
    /// `?`, `?NNN`, `:name`, `@name`, `$name`, `#name`.
    Param,
    /// `;`
    Semicolon,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// Any other operator: `||`, `->`, `->>`, `<=`, `==`, `+`, `~`, …
    Operator,
}

/// One token: its kind, its exact text and its byte offset in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub pos: usize,
}

impl Token<'_> {
    /// Whitespace and comments: tokens SQLite skips.
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// The name this token denotes if it is a bare or quoted identifier, with
    /// the quotes removed and doubled quote characters collapsed.
    pub fn ident_name(&self) -> Option<String> {
        match self.kind {
            TokenKind::Ident => Some(self.text.to_string()),
            TokenKind::QuotedIdent => Some(unquote(self.text)),
            _ => None,
        }
    }

    /// The contents of a string literal, `''` collapsed to `'`.
    pub fn string_value(&self) -> Option<String> {
        match self.kind {
            TokenKind::String => Some(unquote(self.text)),
            _ => None,
        }
    }

    /// The name this token may denote: an identifier's, or a string's, since
    /// SQLite reads a string literal as a name where a name must stand.
    pub fn name(&self) -> Option<String> {
        self.ident_name().or_else(|| self.string_value())
    }

    /// True for a bare word equal to `word`, ignoring ASCII case (SQLite
    /// keywords are ASCII case-insensitive and never quoted).
    pub fn is_keyword(&self, word: &str) -> bool {
        self.kind == TokenKind::Ident && self.text.eq_ignore_ascii_case(word)
    }
}

/// Strips the delimiters of a quoted token and collapses doubled delimiters.
/// `[…]` has no escape in SQLite, so its contents are taken verbatim.
fn unquote(text: &str) -> String {
    let mut chars = text.chars();
    let Some(open) = chars.next() else {
        return String::new();
    };
    let close = if open == '[' { ']' } else { open };
    let inner = chars.as_str();
    let inner = inner.strip_suffix(close).unwrap_or(inner);
    if open == '[' {
        return inner.to_string();
    }
    let doubled: String = [close, close].iter().collect();
    inner.replace(&doubled, &close.to_string())
}

/// Why the input could not be tokenized, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub pos: usize,
    pub message: &'static str,
    /// A short excerpt of the input at `pos`, for error messages.
    pub near: String,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} near {:?}",
            self.message, self.pos, self.near
        )
    }
}

impl std::error::Error for LexError {}

/// SQLite's `IdChar`: ASCII letters and digits, `_`, `$`, and every byte of a
/// multi-byte UTF-8 sequence.
fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// SQLite's `sqlite3Isspace` (used inside `$name(…)` parameters), which unlike
/// the tokenizer's whitespace class includes the vertical tab.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Tokenizes `sql` completely, trivia included.
pub fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, LexError> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (kind, len) = next_token(&bytes[pos..]).map_err(|message| LexError {
            pos,
            message,
            near: excerpt(sql, pos),
        })?;
        // Token ends always fall on an ASCII byte or the end of input, so the
        // slice is on a char boundary; `get` keeps that an error, not a panic.
        let text = sql.get(pos..pos + len).ok_or_else(|| LexError {
            pos,
            message: "token boundary inside a character",
            near: excerpt(sql, pos),
        })?;
        tokens.push(Token { kind, text, pos });
        pos += len;
    }
    Ok(tokens)
}

/// Up to 20 characters starting at `pos` (or the nearest char boundary after it).
fn excerpt(sql: &str, pos: usize) -> String {
    let mut start = pos.min(sql.len());
    while !sql.is_char_boundary(start) {
        start += 1;
    }
    sql[start..].chars().take(20).collect()
}

fn at(z: &[u8], i: usize) -> u8 {
    z.get(i).copied().unwrap_or(0)
}

/// Scans one token at the start of `z` (non-empty). Returns its kind and length
/// in bytes, or the reason SQLite would call it illegal.
fn next_token(z: &[u8]) -> Result<(TokenKind, usize), &'static str> {
    use TokenKind as K;
    let c = at(z, 0);
    let r = match c {
        b' ' | b'\t' | b'\n' | 0x0c | b'\r' => {
            let n = z
                .iter()
                .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0c | b'\r'))
                .count();
            (K::Whitespace, n)
        }
        0xEF if at(z, 1) == 0xBB && at(z, 2) == 0xBF => (K::Whitespace, 3),
        b'-' => match at(z, 1) {
            b'-' => {
                let n = z.iter().take_while(|&&b| b != b'\n').count();
                (K::LineComment, n)
            }
            b'>' if at(z, 2) == b'>' => (K::Operator, 3),
            b'>' => (K::Operator, 2),
            _ => (K::Operator, 1),
        },
        b'(' => (K::LParen, 1),
        b')' => (K::RParen, 1),
        b';' => (K::Semicolon, 1),
        b',' => (K::Comma, 1),
        b'+' | b'*' | b'%' | b'&' | b'~' => (K::Operator, 1),
        b'/' => {
            if at(z, 1) == b'*' {
                // As in SQLite, the `*` of the opener cannot close it: `/*/` is open.
                let mut i = 2;
                loop {
                    if i >= z.len() {
                        break (K::BlockComment, z.len());
                    }
                    if z[i] == b'*' && at(z, i + 1) == b'/' {
                        break (K::BlockComment, i + 2);
                    }
                    i += 1;
                }
            } else {
                (K::Operator, 1)
            }
        }
        b'=' => (K::Operator, if at(z, 1) == b'=' { 2 } else { 1 }),
        b'<' => (
            K::Operator,
            if matches!(at(z, 1), b'=' | b'>' | b'<') {
                2
            } else {
                1
            },
        ),
        b'>' => (
            K::Operator,
            if matches!(at(z, 1), b'=' | b'>') {
                2
            } else {
                1
            },
        ),
        b'!' => {
            if at(z, 1) == b'=' {
                (K::Operator, 2)
            } else {
                return Err("'!' without '='");
            }
        }
        b'|' => (K::Operator, if at(z, 1) == b'|' { 2 } else { 1 }),
        b'\'' | b'"' | b'`' => {
            let mut i = 1;
            loop {
                if i >= z.len() {
                    return Err(if c == b'\'' {
                        "unterminated string literal"
                    } else {
                        "unterminated quoted identifier"
                    });
                }
                if z[i] == c {
                    if at(z, i + 1) == c {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            let kind = if c == b'\'' {
                K::String
            } else {
                K::QuotedIdent
            };
            (kind, i + 1)
        }
        b'[' => match z.iter().position(|&b| b == b']') {
            Some(end) => (K::QuotedIdent, end + 1),
            None => return Err("unterminated quoted identifier"),
        },
        b'.' if !at(z, 1).is_ascii_digit() => (K::Dot, 1),
        b'.' | b'0'..=b'9' => (K::Number, scan_number(z)?),
        b'?' => {
            let n = z[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            (K::Param, 1 + n)
        }
        b'$' | b'@' | b':' | b'#' => (K::Param, scan_named_param(z)?),
        b'x' | b'X' if at(z, 1) == b'\'' => {
            let mut i = 2;
            while at(z, i).is_ascii_hexdigit() {
                i += 1;
            }
            if at(z, i) != b'\'' || i % 2 == 1 {
                return Err("malformed blob literal");
            }
            (K::Blob, i + 1)
        }
        b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
            let n = z.iter().take_while(|&&b| is_id_char(b)).count();
            (K::Ident, n)
        }
        0 => return Err("NUL character"),
        _ => return Err("illegal character"),
    };
    Ok(r)
}

/// Numbers as SQLite scans them, with `_` digit separators (SQLite 3.46+)
/// accepted; an identifier character glued to the end makes the token illegal.
fn scan_number(z: &[u8]) -> Result<usize, &'static str> {
    let digits = |z: &[u8], mut i: usize, hex: bool| {
        while at(z, i).is_ascii_digit()
            || (hex && at(z, i).is_ascii_hexdigit())
            || (at(z, i) == b'_' && i > 0)
        {
            i += 1;
        }
        i
    };
    let mut i;
    if at(z, 0) == b'0' && matches!(at(z, 1), b'x' | b'X') && at(z, 2).is_ascii_hexdigit() {
        i = digits(z, 2, true);
    } else {
        i = digits(z, 0, false);
        if at(z, i) == b'.' {
            i = digits(z, i + 1, false);
        }
        if matches!(at(z, i), b'e' | b'E')
            && (at(z, i + 1).is_ascii_digit()
                || (matches!(at(z, i + 1), b'+' | b'-') && at(z, i + 2).is_ascii_digit()))
        {
            i = digits(z, i + 2, false);
        }
    }
    if is_id_char(at(z, i)) {
        return Err("malformed number");
    }
    Ok(i)
}

/// `$name`, `@name`, `:name`, `#name`, including SQLite's TCL-style `::` and
/// `name(…)` suffixes, so the token ends exactly where SQLite's does.
fn scan_named_param(z: &[u8]) -> Result<usize, &'static str> {
    let mut n = 0;
    let mut i = 1;
    while i < z.len() {
        let c = z[i];
        if is_id_char(c) {
            n += 1;
        } else if c == b'(' && n > 0 {
            i += 1;
            while i < z.len() && !is_c_space(z[i]) && z[i] != b')' {
                i += 1;
            }
            if at(z, i) == b')' {
                return Ok(i + 1);
            }
            return Err("malformed parameter");
        } else if c == b':' && at(z, i + 1) == b':' {
            i += 1;
        } else {
            break;
        }
        i += 1;
    }
    if n == 0 {
        return Err("parameter without a name");
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(TokenKind, &str)> {
        match tokenize(sql) {
            Ok(t) => t
                .into_iter()
                .filter(|t| !t.is_trivia())
                .map(|t| (t.kind, t.text))
                .collect(),
            Err(e) => panic!("lex error for {sql:?}: {e}"),
        }
    }

    use TokenKind as K;

    #[test]
    fn strings_and_quoted_identifiers() {
        assert_eq!(
            kinds("'it''s' \"a\"\"b\" `c``d` [e f]"),
            vec![
                (K::String, "'it''s'"),
                (K::QuotedIdent, "\"a\"\"b\""),
                (K::QuotedIdent, "`c``d`"),
                (K::QuotedIdent, "[e f]"),
            ]
        );
        let t = tokenize("\"a\"\"b\"").unwrap_or_default();
        assert_eq!(t[0].ident_name().as_deref(), Some("a\"b"));
        let t = tokenize("[x\"y]").unwrap_or_default();
        assert_eq!(t[0].ident_name().as_deref(), Some("x\"y"));
        let t = tokenize("'it''s'").unwrap_or_default();
        assert_eq!(t[0].string_value().as_deref(), Some("it's"));
    }

    #[test]
    fn comments() {
        assert_eq!(
            kinds("a -- x ; y\nb /* c ; */ d /* open"),
            vec![(K::Ident, "a"), (K::Ident, "b"), (K::Ident, "d")]
        );
        let t = tokenize("/*/ x").unwrap_or_default();
        assert_eq!(t.len(), 1, "the opener's '*' must not close the comment");
        assert_eq!(
            kinds("SEL/**/ECT"),
            vec![(K::Ident, "SEL"), (K::Ident, "ECT")]
        );
    }

    #[test]
    fn whitespace_follows_sqlite() {
        assert!(
            tokenize("a\x0bb").is_err(),
            "vertical tab is illegal in SQLite"
        );
        assert_eq!(
            kinds("a\x0c\r\n\tb"),
            vec![(K::Ident, "a"), (K::Ident, "b")]
        );
        // A BOM at a token start is whitespace, inside a word it is a letter.
        assert_eq!(
            kinds("FROM \u{feff}curl"),
            vec![(K::Ident, "FROM"), (K::Ident, "curl")]
        );
        assert_eq!(
            kinds("FROM\u{feff}curl"),
            vec![(K::Ident, "FROM\u{feff}curl")]
        );
        // Non-ASCII "spaces" are identifier characters to SQLite.
        assert_eq!(kinds("a\u{a0}b"), vec![(K::Ident, "a\u{a0}b")]);
    }

    #[test]
    fn numbers_blobs_params() {
        assert_eq!(
            kinds("1 1.5 .5 1e10 1.5E-3 0x1F 1_000 x'00ff' X'' ? ?12 :a @b $c::d(e) #f"),
            vec![
                (K::Number, "1"),
                (K::Number, "1.5"),
                (K::Number, ".5"),
                (K::Number, "1e10"),
                (K::Number, "1.5E-3"),
                (K::Number, "0x1F"),
                (K::Number, "1_000"),
                (K::Blob, "x'00ff'"),
                (K::Blob, "X''"),
                (K::Param, "?"),
                (K::Param, "?12"),
                (K::Param, ":a"),
                (K::Param, "@b"),
                (K::Param, "$c::d(e)"),
                (K::Param, "#f"),
            ]
        );
        // TCL's `::` belongs to a name; a single `:` starts the next parameter.
        assert_eq!(kinds("$a::b"), vec![(K::Param, "$a::b")]);
        assert_eq!(kinds("$a:b"), vec![(K::Param, "$a"), (K::Param, ":b")]);
        for (sql, whole) in [("1.e5", "1.e5"), ("1e+5", "1e+5"), ("2E-3", "2E-3")] {
            assert_eq!(kinds(sql), vec![(K::Number, whole)]);
        }
        // SQLite ends a `$name(…)` suffix at C whitespace, vertical tab included.
        for bad in [
            "1ea5",
            "$(x)",
            "1abc",
            "x'0'",
            "x'zz'",
            "x'00",
            "0x",
            "@",
            ":",
            "$a(b",
            "$a(b c)",
            "$a(b\x0bc)",
        ] {
            assert!(tokenize(bad).is_err(), "{bad:?} should not lex");
        }
        assert_eq!(
            tokenize("SELECT x'0'")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("malformed blob literal at byte 7 near \"x'0'\"".to_string())
        );
    }

    #[test]
    fn edges_of_whitespace_comments_and_errors() {
        // Only the whole byte-order mark is whitespace; other characters whose
        // UTF-8 starts with 0xEF are names.
        assert_eq!(kinds("\u{feff}SELECT"), vec![(K::Ident, "SELECT")]);
        for c in ["\u{fec0}", "\u{ff3f}", "\u{ff21}"] {
            assert_eq!(kinds(c), vec![(K::Ident, c)]);
        }
        assert_eq!(kinds("/* a/b */ x"), vec![(K::Ident, "x")]);
        let err = |sql| tokenize(sql).map(|_| ()).map_err(|e| e.message);
        assert_eq!(err("SELECT 'abc"), Err("unterminated string literal"));
        assert_eq!(err("SELECT \"abc"), Err("unterminated quoted identifier"));
        assert_eq!(err("SELECT \0"), Err("NUL character"));
        assert_eq!(err("SELECT ^"), Err("illegal character"));
    }

    #[test]
    fn operators() {
        let ops: Vec<&str> = kinds("|| -> ->> <= >= <> != == << >> < > = | & ~ + - * / %")
            .into_iter()
            .map(|(k, t)| {
                assert_eq!(k, K::Operator);
                t
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                "||", "->", "->>", "<=", ">=", "<>", "!=", "==", "<<", ">>", "<", ">", "=", "|",
                "&", "~", "+", "-", "*", "/", "%"
            ]
        );
        assert_eq!(
            kinds("a.b;(),"),
            vec![
                (K::Ident, "a"),
                (K::Dot, "."),
                (K::Ident, "b"),
                (K::Semicolon, ";"),
                (K::LParen, "("),
                (K::RParen, ")"),
                (K::Comma, ","),
            ]
        );
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            kinds("_a a$b é x y2"),
            vec![
                (K::Ident, "_a"),
                (K::Ident, "a$b"),
                (K::Ident, "é"),
                (K::Ident, "x"),
                (K::Ident, "y2"),
            ]
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "'open", "\"open", "`open", "[open", "!", "\\", "a\0b", "{", "^",
        ] {
            assert!(tokenize(bad).is_err(), "{bad:?} should not lex");
        }
        let e = tokenize("select 'x").err();
        assert_eq!(e.map(|e| e.pos), Some(7));
    }

    #[test]
    fn positions() {
        let t = tokenize("ab  cd").unwrap_or_default();
        assert_eq!(t.iter().map(|t| t.pos).collect::<Vec<_>>(), vec![0, 2, 4]);
    }
}
