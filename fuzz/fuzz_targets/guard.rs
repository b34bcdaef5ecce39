//! Fuzz target for the `custom_query` guard: lexing and checking arbitrary
//! UTF-8 must never panic, and every query the guard accepts must also pass
//! a second, deliberately simple token-level oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_osquery_server::guard::{
    DEFAULT_DENY_TABLES, FORBIDDEN_FUNCTIONS, FORBIDDEN_KEYWORDS, MAX_QUERY_CHARS, TablePolicy,
    check,
};
use mcp_osquery_server::guard::lexer::{TokenKind, tokenize};

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let tokens = tokenize(sql);
    if let Ok(tokens) = &tokens {
        // Lossless: the guard reasons about exactly the text osqueryi gets.
        let joined: String = tokens.iter().map(|t| t.text).collect();
        assert_eq!(joined, sql);
    }
    if check(sql, &TablePolicy::default()).is_err() {
        return;
    }
    let Ok(tokens) = tokens else {
        panic!("accepted a query that does not lex: {sql:?}");
    };
    assert!(sql.chars().count() <= MAX_QUERY_CHARS);
    let sig: Vec<_> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let first = sig.first().map(|t| t.text.to_ascii_uppercase());
    assert!(
        matches!(first.as_deref(), Some("SELECT") | Some("WITH")),
        "accepted a statement not starting with SELECT/WITH: {sql:?}"
    );
    for (i, t) in sig.iter().enumerate() {
        // SQLite reads a 'string' as a name right after FROM/JOIN, next to a
        // `.`, or before `(` (a table-valued function).
        let prev = i.checked_sub(1).and_then(|p| sig.get(p));
        let string_as_name = t.kind == TokenKind::String
            && (prev.is_some_and(|p| {
                p.kind == TokenKind::Dot
                    || p.text.eq_ignore_ascii_case("FROM")
                    || p.text.eq_ignore_ascii_case("JOIN")
            }) || sig
                .get(i + 1)
                .is_some_and(|n| matches!(n.kind, TokenKind::Dot | TokenKind::LParen)));
        let name = match t.kind {
            TokenKind::Ident | TokenKind::QuotedIdent => t.ident_name(),
            TokenKind::String if string_as_name => t.string_value(),
            _ => None,
        };
        if let Some(name) = &name {
            assert!(
                !DEFAULT_DENY_TABLES.iter().any(|d| d.eq_ignore_ascii_case(name)),
                "accepted denied table {name:?} in {sql:?}"
            );
        }
        if t.kind == TokenKind::Ident {
            assert!(
                !FORBIDDEN_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(t.text)),
                "accepted keyword {:?} in {sql:?}",
                t.text
            );
        }
        let callee = name.or_else(|| t.string_value());
        let called = sig.get(i + 1).is_some_and(|n| n.kind == TokenKind::LParen);
        if let Some(callee) = callee
            && called
        {
            assert!(
                !FORBIDDEN_FUNCTIONS.iter().any(|f| f.eq_ignore_ascii_case(&callee)),
                "accepted call to {callee:?} in {sql:?}"
            );
        }
        if t.kind == TokenKind::Semicolon {
            assert_eq!(i + 1, sig.len(), "accepted a second statement: {sql:?}");
        }
    }
});
