//! The `custom_query` guard: decides, before anything reaches osqueryi, whether
//! an untrusted SQL string is a single read-only `SELECT` that touches no
//! denied table (SPEC §6).
//!
//! Every rule works on tokens from [`lexer`], never on substrings, so
//! words inside string literals and comments cannot trigger a rule and quoting
//! or comment tricks cannot hide one. The guard errs towards refusing: where
//! the choice is between a false positive (an honest query refused) and a false
//! negative (an attack let through), it takes the false positive:
//!
//! - a bare identifier spelled like a state-changing keyword (`update`,
//!   `delete`, …) is refused even as a column name; quote it (`"update"`);
//! - any identifier, bare or quoted, spelled like a denied table is refused
//!   wherever it appears (column, alias, CTE name), because deciding "this is
//!   only a column" needs a full SQL parser and one mistake would be a leak;
//! - a double-quoted `"curl"` counts as an identifier even where SQLite would
//!   fall back to reading it as a string;
//! - in allow-list mode, a table reference the guard cannot resolve, or a CTE
//!   used before its definition, is refused.
//!
//! The deny list is also handed to osqueryi as `--disable_tables`, so a guard
//! bug alone does not expose a denied table.

use std::fmt;

use lexer::{Token, TokenKind, tokenize};

mod denied;
pub mod lexer;
mod policy;

pub use denied::{DENIED_TABLES, DeniedTable, built_in};
pub use policy::{TablePolicy, check_changes};

/// Longest query accepted, in characters (SPEC §4).
pub const MAX_QUERY_CHARS: usize = 10_000;

/// Statement keywords that change state or reach outside the query. `REPLACE`
/// is handled separately because `replace(…)` is an ordinary string function.
pub const FORBIDDEN_KEYWORDS: &[&str] = &[
    "INSERT",
    "UPDATE",
    "DELETE",
    "DROP",
    "CREATE",
    "ALTER",
    "ATTACH",
    "DETACH",
    "PRAGMA",
    "VACUUM",
    "REINDEX",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
];

/// Functions that load code, touch files, run commands or stall the process.
/// `carve` is osquery's SQL-level file carver, refused for the same reason as
/// the `carves` table.
pub const FORBIDDEN_FUNCTIONS: &[&str] = &[
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "system",
    "shell",
    "sleep",
    "carve",
];

/// Why a query was refused: the rule it broke and the word that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// One of `empty`, `too-long`, `meta-command`, `lexical`,
    /// `multiple-statements`, `not-select`, `forbidden-keyword`,
    /// `forbidden-function`, `denied-table`, `not-allowed-table`.
    pub rule: &'static str,
    /// The offending word as the caller wrote it (shortened, control
    /// characters escaped); empty when there is none.
    pub word: String,
    /// What would be accepted instead, when that helps; may be empty.
    pub hint: String,
}

impl Rejection {
    fn new(rule: &'static str, word: &str, hint: impl Into<String>) -> Self {
        Rejection {
            rule,
            word: printable(word),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query rejected by rule '{}'", self.rule)?;
        if !self.word.is_empty() {
            write!(f, ": {}", self.word)?;
        }
        if !self.hint.is_empty() {
            write!(f, " ({})", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

/// The word goes back to the caller and into logs: keep it one short line.
fn printable(word: &str) -> String {
    let mut out = String::new();
    for (i, c) in word.chars().enumerate() {
        if i == 60 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

const SELECT_HINT: &str = "only a single SELECT or WITH … SELECT is allowed";

/// Accepts `sql` only if it is one read-only `SELECT` that the policy lets
/// through; otherwise names the first rule it breaks.
pub fn check(sql: &str, policy: &TablePolicy) -> Result<(), Rejection> {
    let chars = sql.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(Rejection::new(
            "too-long",
            &format!("{chars} characters"),
            format!("at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    // osqueryi runs an argument starting with '.' as a shell meta-command
    // (`.connect` reaches a running osqueryd), whatever follows.
    let trimmed = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if trimmed.starts_with('.') {
        let word = trimmed.split_whitespace().next().unwrap_or(".");
        return Err(Rejection::new("meta-command", word, SELECT_HINT));
    }
    let tokens = tokenize(sql)
        .map_err(|e| Rejection::new("lexical", &format!("{} near {:?}", e.message, e.near), ""))?;
    let sig: Vec<Token<'_>> = tokens.into_iter().filter(|t| !t.is_trivia()).collect();

    let body = single_statement(&sig)?;
    let parens = Parens::new(body)?;
    check_shape(body, &parens)?;
    check_keywords(body)?;
    check_functions(body)?;
    let ctes = collect_ctes(body, &parens)?;
    check_tables(body, &ctes, policy)
}

/// Strips one trailing `;`; refuses an empty statement or anything after a `;`.
fn single_statement<'t, 'a>(sig: &'t [Token<'a>]) -> Result<&'t [Token<'a>], Rejection> {
    let empty = || Rejection::new("empty", "", "send one SELECT statement");
    if sig.is_empty() {
        return Err(empty());
    }
    if let Some(i) = sig.iter().position(|t| t.kind == TokenKind::Semicolon)
        && i + 1 != sig.len()
    {
        // `;;` and `; DROP …` both land here; name what follows the first `;`.
        let next = sig.get(i + 1).map_or(";", |t| t.text);
        return Err(Rejection::new(
            "multiple-statements",
            next,
            "one statement only, a single trailing ';' is allowed",
        ));
    }
    let body = match sig.split_last() {
        Some((last, rest)) if last.kind == TokenKind::Semicolon => rest,
        _ => sig,
    };
    if body.is_empty() {
        return Err(empty());
    }
    Ok(body)
}

/// Paren matching for the statement: for every token, the index of the `)`
/// closing the group it sits in (or the statement length at top level), and
/// for every `(`, its partner.
struct Parens {
    close_of_open: Vec<Option<usize>>,
    enclosing_close: Vec<usize>,
}

impl Parens {
    fn new(body: &[Token<'_>]) -> Result<Self, Rejection> {
        let n = body.len();
        let mut close_of_open = vec![None; n];
        let mut enclosing_close = vec![n; n];
        let mut stack: Vec<usize> = Vec::new();
        for (i, t) in body.iter().enumerate() {
            match t.kind {
                TokenKind::LParen => stack.push(i),
                TokenKind::RParen => {
                    let Some(open) = stack.pop() else {
                        return Err(unbalanced(")"));
                    };
                    close_of_open[open] = Some(i);
                    for slot in &mut enclosing_close[open + 1..i] {
                        if *slot == n {
                            *slot = i;
                        }
                    }
                }
                _ => {}
            }
        }
        if !stack.is_empty() {
            return Err(unbalanced("("));
        }
        Ok(Parens {
            close_of_open,
            enclosing_close,
        })
    }

    fn close(&self, open: usize) -> Option<usize> {
        self.close_of_open.get(open).copied().flatten()
    }
}

fn unbalanced(word: &str) -> Rejection {
    Rejection::new("lexical", word, "unbalanced parentheses")
}

fn is_forbidden_keyword(t: &Token<'_>) -> bool {
    t.kind == TokenKind::Ident && FORBIDDEN_KEYWORDS.iter().any(|k| t.is_keyword(k))
}

/// The statement must start with SELECT, or be WITH … whose main statement is
/// a SELECT (a CTE in front of DELETE is the classic way to hide a write).
fn check_shape(body: &[Token<'_>], parens: &Parens) -> Result<(), Rejection> {
    let first = &body[0];
    if first.is_keyword("SELECT") {
        return Ok(());
    }
    if is_forbidden_keyword(first) || first.is_keyword("REPLACE") {
        return Err(Rejection::new("forbidden-keyword", first.text, SELECT_HINT));
    }
    if !first.is_keyword("WITH") {
        return Err(Rejection::new("not-select", first.text, SELECT_HINT));
    }
    parse_with(body, 0, parens).map(|_| ())
}

/// One common table expression: its name and the index of the `(` opening its
/// body, from where the name refers to the CTE rather than a real table.
struct Cte {
    name: String,
    body_open: usize,
    scope_end: usize,
}

/// Parses `WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (…), …`
/// starting at `body[at]` (the WITH) and requires a SELECT right after the
/// list. Returns the CTEs and the index of that SELECT.
fn parse_with(
    body: &[Token<'_>],
    at: usize,
    parens: &Parens,
) -> Result<(Vec<Cte>, usize), Rejection> {
    let bad = |i: usize| {
        let word = body.get(i).map_or("end of query", |t| t.text);
        Rejection::new("not-select", word, SELECT_HINT)
    };
    let scope_end = parens
        .enclosing_close
        .get(at)
        .copied()
        .unwrap_or(body.len());
    let mut ctes = Vec::new();
    let mut j = at + 1;
    if body.get(j).is_some_and(|t| t.is_keyword("RECURSIVE")) {
        j += 1;
    }
    loop {
        let name = match body.get(j) {
            Some(t) => t.name(),
            None => None,
        };
        let Some(name) = name else {
            return Err(bad(j));
        };
        j += 1;
        if body.get(j).is_some_and(|t| t.kind == TokenKind::LParen) {
            j = parens.close(j).ok_or_else(|| bad(j))? + 1;
        }
        if !body.get(j).is_some_and(|t| t.is_keyword("AS")) {
            return Err(bad(j));
        }
        j += 1;
        if body.get(j).is_some_and(|t| t.is_keyword("NOT")) {
            j += 1;
            if !body.get(j).is_some_and(|t| t.is_keyword("MATERIALIZED")) {
                return Err(bad(j));
            }
            j += 1;
        } else if body.get(j).is_some_and(|t| t.is_keyword("MATERIALIZED")) {
            j += 1;
        }
        if !body.get(j).is_some_and(|t| t.kind == TokenKind::LParen) {
            return Err(bad(j));
        }
        ctes.push(Cte {
            name,
            body_open: j,
            scope_end,
        });
        j = parens.close(j).ok_or_else(|| bad(j))? + 1;
        if body.get(j).is_some_and(|t| t.kind == TokenKind::Comma) {
            j += 1;
            continue;
        }
        break;
    }
    if body.get(j).is_some_and(|t| t.is_keyword("SELECT")) {
        Ok((ctes, j))
    } else {
        Err(bad(j))
    }
}

/// Every WITH in the statement, nested ones included, so allow-list mode can
/// tell a CTE name from a real table.
fn collect_ctes(body: &[Token<'_>], parens: &Parens) -> Result<Vec<Cte>, Rejection> {
    let mut all = Vec::new();
    for (i, t) in body.iter().enumerate() {
        if t.is_keyword("WITH") {
            let (mut ctes, _) = parse_with(body, i, parens)?;
            all.append(&mut ctes);
        }
    }
    Ok(all)
}

fn is_pragma_name(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("pragma_"))
}

fn check_keywords(body: &[Token<'_>]) -> Result<(), Rejection> {
    for (i, t) in body.iter().enumerate() {
        if is_forbidden_keyword(t) {
            return Err(Rejection::new(
                "forbidden-keyword",
                t.text,
                "quote it (\"name\") if it is a column",
            ));
        }
        // REPLACE as a statement or in `INSERT OR REPLACE`; `replace(…)` is
        // the string function.
        if t.is_keyword("REPLACE") && !body.get(i + 1).is_some_and(|n| n.kind == TokenKind::LParen)
        {
            return Err(Rejection::new(
                "forbidden-keyword",
                t.text,
                "replace(…) as a function is allowed",
            ));
        }
        // pragma_table_info() and friends are PRAGMA in table-valued form.
        if let Some(name) = t.name()
            && is_pragma_name(&name)
            && (t.kind != TokenKind::String || is_name_position(body, i))
        {
            return Err(Rejection::new("forbidden-keyword", t.text, ""));
        }
    }
    Ok(())
}

/// SQLite accepts a single-quoted name where only a name can stand (`FROM
/// 'curl'`, `'main'.'curl'`, `FROM 'curl'(…)`); this is where a string token
/// must be read as a name.
fn is_name_position(body: &[Token<'_>], i: usize) -> bool {
    let prev = i.checked_sub(1).and_then(|p| body.get(p));
    let next = body.get(i + 1);
    prev.is_some_and(|p| {
        p.kind == TokenKind::Dot
            || p.is_keyword("FROM")
            || p.is_keyword("JOIN")
            || p.is_keyword("IN")
    }) || next.is_some_and(|n| matches!(n.kind, TokenKind::Dot | TokenKind::LParen))
}

fn check_functions(body: &[Token<'_>]) -> Result<(), Rejection> {
    for (i, t) in body.iter().enumerate() {
        if !body.get(i + 1).is_some_and(|n| n.kind == TokenKind::LParen) {
            continue;
        }
        let Some(name) = t.name() else {
            continue;
        };
        if FORBIDDEN_FUNCTIONS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&name))
        {
            return Err(Rejection::new("forbidden-function", t.text, ""));
        }
    }
    Ok(())
}

/// A table the statement reads: the token naming it and whether it carried a
/// schema qualifier (a qualified name is never a CTE).
struct TableRef {
    idx: usize,
    name: String,
    qualified: bool,
}

/// Finds the table references of a SELECT: names after FROM, JOIN, a comma in
/// a FROM clause, or IN (`x IN tbl`), with an optional schema qualifier; a name
/// followed by `(` there is a table-valued function. Anything else in such a
/// position is recorded as it is, so allow-list mode refuses it.
/// Reserved words that end a FROM clause. `WINDOW` is not among them: SQLite
/// reads it as a plain identifier (an alias, say) unless `name AS` follows.
const ENDS_FROM: &[&str] = &[
    "WHERE",
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "SELECT",
    "VALUES",
];

/// `WINDOW w AS (…)` starts a clause; `FROM t window, u` only aliases `t`.
fn is_window_clause(body: &[Token<'_>], i: usize) -> bool {
    body.get(i).is_some_and(|t| t.is_keyword("WINDOW"))
        && body
            .get(i + 1)
            .is_some_and(|n| matches!(n.kind, TokenKind::Ident | TokenKind::QuotedIdent))
        && body.get(i + 2).is_some_and(|n| n.is_keyword("AS"))
}

fn table_refs(body: &[Token<'_>]) -> Vec<TableRef> {
    // One flag per paren depth: are we inside a FROM clause at that depth?
    let mut in_from: Vec<bool> = vec![false];
    let mut expect_table = false;
    let mut refs = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let t = &body[i];
        if expect_table {
            expect_table = false;
            if t.kind == TokenKind::LParen {
                // A sub-select, or a parenthesised join list that starts with
                // a table of its own.
                let sub = body.get(i + 1).is_some_and(|n| {
                    n.is_keyword("SELECT") || n.is_keyword("WITH") || n.is_keyword("VALUES")
                });
                in_from.push(!sub);
                expect_table = !sub;
                i += 1;
                continue;
            }
            let mut idx = i;
            let mut qualified = false;
            if body.get(i + 1).is_some_and(|n| n.kind == TokenKind::Dot) && i + 2 < body.len() {
                idx = i + 2;
                qualified = true;
            }
            match body.get(idx).and_then(Token::name) {
                Some(name) => {
                    refs.push(TableRef {
                        idx,
                        name,
                        qualified,
                    });
                    i = idx + 1;
                }
                None => {
                    // Not a name: SQLite will most likely refuse it, but the
                    // guard cannot vouch for it, so allow-list mode refuses
                    // it. The token still gets its ordinary handling below.
                    refs.push(TableRef {
                        idx,
                        name: body.get(idx).map_or("", |t| t.text).to_string(),
                        qualified,
                    });
                }
            }
            continue;
        }
        match t.kind {
            TokenKind::LParen => in_from.push(false),
            TokenKind::RParen => {
                in_from.pop();
                if in_from.is_empty() {
                    in_from.push(false);
                }
            }
            TokenKind::Comma => expect_table = in_from.last().copied().unwrap_or(false),
            TokenKind::Ident => {
                let prev_distinct = i
                    .checked_sub(1)
                    .and_then(|p| body.get(p))
                    .is_some_and(|p| p.is_keyword("DISTINCT"));
                if t.is_keyword("FROM") && !prev_distinct {
                    if let Some(top) = in_from.last_mut() {
                        *top = true;
                    }
                    expect_table = true;
                } else if t.is_keyword("JOIN") {
                    expect_table = true;
                } else if t.is_keyword("IN") {
                    expect_table = !body.get(i + 1).is_some_and(|n| n.kind == TokenKind::LParen);
                } else if (ENDS_FROM.iter().any(|k| t.is_keyword(k)) || is_window_clause(body, i))
                    && let Some(top) = in_from.last_mut()
                {
                    *top = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    refs
}

fn check_tables(body: &[Token<'_>], ctes: &[Cte], policy: &TablePolicy) -> Result<(), Rejection> {
    // Any identifier spelled like a denied table, wherever it stands: a
    // false positive on a column or alias is the price of no false negative.
    for (i, t) in body.iter().enumerate() {
        let name = match t.kind {
            TokenKind::Ident | TokenKind::QuotedIdent => t.ident_name(),
            TokenKind::String if is_name_position(body, i) => t.string_value(),
            _ => None,
        };
        if name.is_some_and(|n| policy.is_table_denied(&n)) {
            return Err(denied::refusal(t));
        }
    }
    let refs = table_refs(body);
    for r in &refs {
        let Some(t) = body.get(r.idx) else { continue };
        if policy.is_table_denied(&r.name) {
            return Err(denied::refusal(t));
        }
        if is_pragma_name(&r.name) {
            return Err(Rejection::new("forbidden-keyword", t.text, ""));
        }
    }
    let Some(allow) = policy.allow() else {
        return Ok(());
    };
    for r in &refs {
        let Some(t) = body.get(r.idx) else { continue };
        if allow.iter().any(|a| a.eq_ignore_ascii_case(&r.name)) {
            continue;
        }
        let is_cte = !r.qualified
            && ctes.iter().any(|c| {
                c.name.eq_ignore_ascii_case(&r.name) && c.body_open <= r.idx && r.idx < c.scope_end
            });
        if !is_cte {
            let hint = if allow.is_empty() {
                "no tables are allowed".to_string()
            } else {
                format!("allowed tables: {}", allow.join(", "))
            };
            return Err(Rejection::new("not-allowed-table", t.text, hint));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACKS: &str = include_str!("../../tests/guard/attacks.txt");
    const HONEST: &str = include_str!("../../tests/guard/honest.txt");

    /// The corpus files keep one query per line; these escapes let a line
    /// carry characters that would otherwise break that format.
    fn unescape(line: &str) -> String {
        line.replace("\\n", "\n")
            .replace("\\x0b", "\x0b")
            .replace("\\ufeff", "\u{feff}")
            .replace("\\u00a0", "\u{a0}")
    }

    /// The significant tokens of `sql`, as `check` sees them.
    fn sig(sql: &str) -> Vec<Token<'_>> {
        tokenize(sql)
            .expect("lexes")
            .into_iter()
            .filter(|t| !t.is_trivia())
            .collect()
    }

    #[test]
    fn strings_are_names_only_where_a_name_stands() {
        for (sql, at, want) in [
            ("SELECT * FROM 'curl'", 3, true),
            ("SELECT * FROM t JOIN 'curl'", 5, true),
            ("SELECT 1 WHERE x IN 'curl'", 5, true),
            ("SELECT * FROM main.'curl'", 5, true),
            ("SELECT 'main'.x", 1, true),
            ("SELECT 'f'(1)", 1, true),
            ("SELECT 'a', 'b'", 1, false),
            ("SELECT x = 'curl'", 3, false),
            ("SELECT 'curl' AS c", 1, false),
        ] {
            let body = sig(sql);
            assert_eq!(
                is_name_position(&body, at),
                want,
                "{sql} at {}",
                body[at].text
            );
        }
    }

    #[test]
    fn pragma_names_are_refused_as_names_and_allowed_as_text() {
        let p = TablePolicy::default();
        assert_eq!(
            rule("SELECT pragma_table_info FROM processes", &p),
            Some("forbidden-keyword")
        );
        assert_eq!(rule("SELECT 'pragma_table_info' AS s", &p), None);
        // A quoted name before a dot is a table name even outside FROM.
        assert_eq!(
            rule("SELECT 'shadow'.password FROM processes", &p),
            Some("denied-table")
        );
        assert_eq!(
            rule("SELECT * FROM 'pragma_table_info'('x')", &p),
            Some("forbidden-keyword")
        );
    }

    #[test]
    fn table_references_follow_from_join_in_and_commas_at_their_depth() {
        for (sql, want) in [
            (
                "SELECT 1 FROM processes, users",
                &["processes", "users"][..],
            ),
            ("SELECT 1 FROM main.processes", &["processes"]),
            // Parentheses after ON open and close a depth of their own.
            (
                "SELECT 1 FROM processes JOIN users ON (processes.uid = users.uid), mounts",
                &["processes", "users", "mounts"],
            ),
            (
                "SELECT 1 FROM (processes JOIN users)",
                &["processes", "users"],
            ),
            ("SELECT 1 FROM (SELECT 1), users", &["users"]),
            ("SELECT 1 WHERE x IN users", &["users"]),
            ("SELECT 1 WHERE x IN (1, 2)", &[]),
            (
                "SELECT 1 FROM processes WINDOW w AS (ORDER BY pid), v AS (ORDER BY uid)",
                &["processes"],
            ),
            (
                "SELECT 1 FROM processes window, users",
                &["processes", "users"],
            ),
            // Not a WINDOW clause unless a name follows it: the FROM goes on.
            (
                "SELECT 1 FROM processes window 'w' AS (x), users",
                &["processes", "users"],
            ),
            ("SELECT a IS DISTINCT FROM b", &[]),
        ] {
            let body = sig(sql);
            let names: Vec<String> = table_refs(&body).into_iter().map(|r| r.name).collect();
            assert_eq!(names, want, "{sql}");
        }
        let body = sig("SELECT 1 FROM main.");
        let refs = table_refs(&body);
        assert!(
            refs.iter().all(|r| !r.qualified),
            "a dot with nothing after it"
        );
    }

    fn corpus(text: &str) -> impl Iterator<Item = (usize, &str)> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
    }

    #[test]
    fn attack_corpus_is_rejected_by_the_expected_rule() {
        let policy = TablePolicy::default();
        let mut failures = Vec::new();
        let mut count = 0;
        for (n, line) in corpus(ATTACKS) {
            count += 1;
            let Some((rule, query)) = line.split_once('\t') else {
                failures.push(format!("line {n}: no TAB between rule and query"));
                continue;
            };
            match check(&unescape(query), &policy) {
                Ok(()) => failures.push(format!("line {n}: ACCEPTED {query:?}")),
                Err(r) if r.rule != rule => failures.push(format!(
                    "line {n}: expected {rule}, got {} ({r}) for {query:?}",
                    r.rule
                )),
                Err(_) => {}
            }
        }
        assert!(count >= 70, "attack corpus has only {count} queries");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn honest_corpus_is_accepted() {
        let policy = TablePolicy::default();
        let mut failures = Vec::new();
        let mut count = 0;
        for (n, line) in corpus(HONEST) {
            count += 1;
            if let Err(r) = check(&unescape(line), &policy) {
                failures.push(format!("line {n}: {r} for {line:?}"));
            }
        }
        assert!(count >= 55, "honest corpus has only {count} queries");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn rule(sql: &str, policy: &TablePolicy) -> Option<&'static str> {
        check(sql, policy).err().map(|r| r.rule)
    }

    #[test]
    fn length_limit_counts_characters() {
        let p = TablePolicy::default();
        let pad = "é".repeat(MAX_QUERY_CHARS - "SELECT ''".len());
        assert_eq!(rule(&format!("SELECT '{pad}'"), &p), None);
        assert_eq!(rule(&format!("SELECT '{pad}é'"), &p), Some("too-long"));
    }

    #[test]
    fn messages_name_rule_and_word() {
        let p = TablePolicy::default();
        let msg = |sql| {
            check(sql, &p)
                .err()
                .map(|r| r.to_string())
                .unwrap_or_default()
        };
        assert!(msg("SELECT * FROM curl").starts_with(
            "query rejected by rule 'denied-table': curl (curl is a table this server refuses"
        ));
        assert!(
            msg("SELECT path, hash FROM file")
                .contains("wherever it appears, as a table, column or alias")
        );
        assert!(
            msg("SELECT * FROM deb_packages WHERE name = \"curl\"")
                .contains("use single quotes: 'curl'")
        );
        // Backticks and brackets quote a name too, but no one means a string by them.
        assert!(msg("SELECT * FROM `curl`").contains("wherever it appears"));
        assert!(msg("SELECT * FROM [curl]").contains("wherever it appears"));
        assert!(
            msg("DELETE FROM t").starts_with("query rejected by rule 'forbidden-keyword': DELETE")
        );
        assert!(msg("SELECT 1; SELECT 2").contains("single trailing ';'"));
        assert!(
            msg("SELECT 1; DROP TABLE x")
                .starts_with("query rejected by rule 'multiple-statements': DROP (")
        );
        assert!(msg("SELECT 1;;").starts_with("query rejected by rule 'multiple-statements': ; ("));
        let allow = TablePolicy::new(None, Some(vec!["processes".into(), "users".into()]));
        let m = check("SELECT * FROM mounts", &allow)
            .err()
            .map(|r| r.to_string());
        assert_eq!(
            m.as_deref(),
            Some(
                "query rejected by rule 'not-allowed-table': mounts (allowed tables: processes, users)"
            )
        );
        // The echoed word never carries raw control characters.
        assert!(!msg(".tables\u{1b}[2J").contains('\u{1b}'));
    }

    #[test]
    fn the_operator_grows_the_deny_list_and_re_opens_only_what_it_names() {
        let p = TablePolicy::new(Some(vec![" Mounts ".into(), "-augeas".into()]), None);
        assert_eq!(rule("SELECT * FROM MOUNTS", &p), Some("denied-table"));
        assert_eq!(rule("SELECT * FROM shadow", &p), Some("denied-table"));
        assert_eq!(rule("SELECT * FROM configurations", &p), None);
        // Functions and keywords stay forbidden whatever the table policy.
        assert_eq!(rule("SELECT sleep(1)", &p), Some("forbidden-function"));
        let d = TablePolicy::default();
        for sql in [
            "SELECT * FROM configurations",
            "SELECT * FROM yara WHERE path = '/etc/passwd'",
            "SELECT env_variables FROM docker_containers",
            "SELECT key, value FROM lxd_instance_config",
        ] {
            assert_eq!(rule(sql, &d), Some("denied-table"), "{sql}");
        }
    }

    #[test]
    fn allow_list_mode() {
        let p = TablePolicy::new(
            None,
            Some(vec![
                "processes".into(),
                "listening_ports".into(),
                "json_each".into(),
            ]),
        );
        assert!(p.is_table_allowed("Processes"));
        assert!(!p.is_table_allowed("users"));
        let ok = [
            "SELECT * FROM processes",
            "SELECT * FROM main.processes",
            "SELECT * FROM \"Processes\"",
            "SELECT p.pid FROM processes p JOIN listening_ports l USING (pid)",
            "SELECT * FROM processes, listening_ports",
            "SELECT * FROM (processes JOIN listening_ports USING (pid))",
            "SELECT * FROM (SELECT pid FROM processes) AS x",
            "SELECT 1",
            "SELECT value FROM json_each('[1,2]')",
            "WITH x AS (SELECT pid FROM processes) SELECT * FROM x",
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT n FROM c",
            "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b",
            "SELECT * FROM processes WHERE pid IN (SELECT pid FROM listening_ports)",
            "SELECT * FROM (WITH y AS (SELECT 1) SELECT * FROM y)",
            "SELECT 1 IS DISTINCT FROM 2 FROM processes",
            "SELECT count(*) OVER w FROM processes WINDOW w AS (ORDER BY pid)",
            "SELECT * FROM processes window WHERE window.pid = 1",
        ];
        for sql in ok {
            assert_eq!(check(sql, &p), Ok(()), "{sql}");
        }
        let refused = [
            "SELECT * FROM users",
            "SELECT * FROM processes, users",
            "SELECT * FROM processes JOIN users USING (uid)",
            "SELECT * FROM processes WHERE uid IN (SELECT uid FROM users)",
            "SELECT * FROM processes WHERE uid IN users",
            "SELECT * FROM (processes JOIN users USING (uid))",
            "SELECT * FROM 'users'",
            "SELECT * FROM main.x",
            "SELECT * FROM temp.users",
            "SELECT (SELECT 1 FROM mounts)",
            "SELECT * FROM generate_series(1, 3)",
            "SELECT * FROM processes UNION SELECT * FROM users",
            // A CTE name only covers its own scope: outside it, the real table.
            "SELECT * FROM users, (WITH users AS (SELECT 1) SELECT * FROM users)",
            // Used before it is defined: SQLite may read the real table.
            "WITH a AS (SELECT * FROM users), users AS (SELECT 1) SELECT * FROM a",
            // A window name is not a CTE.
            "SELECT * FROM users WINDOW users AS (ORDER BY 1)",
            "SELECT * FROM 1",
            // An alias named `window` does not end the FROM list (review finding).
            "SELECT * FROM processes window, users",
            "SELECT * FROM processes AS window, 'users'",
            "SELECT * FROM processes window JOIN users USING (uid)",
        ];
        for sql in refused {
            assert_eq!(rule(sql, &p), Some("not-allowed-table"), "{sql}");
        }
        // The deny list still wins over the allow list.
        let both = TablePolicy::new(None, Some(vec!["curl".into()]));
        assert_eq!(rule("SELECT * FROM curl", &both), Some("denied-table"));
        let empty = TablePolicy::new(None, Some(vec![]));
        assert_eq!(rule("SELECT 1", &empty), None);
        assert!(
            check("SELECT * FROM processes", &empty)
                .err()
                .is_some_and(|r| r.hint == "no tables are allowed")
        );
    }
}
