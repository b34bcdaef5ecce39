//! The layer order of `src/`, kept by a test (as rust-analyzer's tidy tests
//! keep its invariants): every module imports only from the floors below its
//! own, so there are no import cycles and the architecture stays readable
//! from the tree. ARCHITECTURE.md explains the floors.
//!
//! The test reads the sources as text: every `crate::` path in code (a `use`
//! or a path in an expression; comments and string literals do not count) is
//! mapped to the top-level module it names, and that module's floor must be
//! strictly lower than the importing file's. Modules on one floor are
//! siblings and may not import each other.

use std::path::{Path, PathBuf};

/// Top-level modules by floor, the top first.
const FLOORS: &[&[&str]] = &[
    &["main"],
    &["cli"],
    &["server"],
    &["mcp", "ops"],
    &["tools"],
    &["logging"],
    &[
        "config",
        "jsonrpc",
        "redact",
        "guard",
        "osquery",
        "memory",
        "table_specs",
    ],
];

/// Longest a file may be before its test module.
const MAX_LINES: usize = 600;

/// Files that are not layers: the crate root only declares the modules, and
/// this file names them all.
const NOT_LAYERS: &[&str] = &["lib.rs", "layering.rs"];

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// The top-level module a file under `src/` belongs to.
fn module_of(relative: &str) -> &str {
    let first = relative.split('/').next().unwrap_or(relative);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Every import in `source` that breaks the floors, as one message each.
fn violations(relative: &str, source: &str) -> Vec<String> {
    let from = module_of(relative);
    let Some(from_floor) = floor(from) else {
        return vec![format!(
            "src/{relative}: module {from} has no floor; add it to FLOORS in src/layering.rs"
        )];
    };
    let mut found = Vec::new();
    for (line, to) in crate_paths(&blank_comments_and_literals(source)) {
        if to == from {
            continue;
        }
        match floor(to) {
            None => found.push(format!(
                "src/{relative}:{line}: {from} imports {to}, which has no floor; add it to FLOORS in src/layering.rs"
            )),
            Some(to_floor) if to_floor <= from_floor => {
                let how = if to_floor == from_floor {
                    "a sibling on the same floor"
                } else {
                    "a layer above it"
                };
                found.push(format!(
                    "src/{relative}:{line}: {from} (floor {from_floor}) imports {to} (floor {to_floor}), {how}; a layer may import only from the floors below it"
                ));
            }
            Some(_) => {}
        }
    }
    found
}

/// The source with comments, string and char literals replaced by spaces
/// (newlines kept, so line numbers stay right).
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == 'r' && matches!(next, Some('#' | '"')) && !ident_before(&chars, i) {
            // A raw string: r"…" or r#"…"#, closed by the same number of #.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let start = i;
            i += 2 + hashes;
            while i < chars.len() && !chars[i..].starts_with(&close) {
                i += 1;
            }
            i = (i + close.len()).min(chars.len());
            chars[start..i].iter().for_each(|&c| blank(&mut out, c));
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                chars[i..(i + step).min(chars.len())]
                    .iter()
                    .for_each(|&c| blank(&mut out, c));
                i += step;
            }
            if i < chars.len() {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\''), or a lifetime ('a), left as is.
            let len = match (next, chars.get(i + 2)) {
                (Some('\\'), _) => chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| p + 3),
                (Some(_), Some('\'')) => Some(3),
                _ => None,
            };
            let len = len.unwrap_or(1).min(chars.len() - i);
            if len > 1 {
                chars[i..i + len].iter().for_each(|&c| blank(&mut out, c));
            } else {
                out.push(c);
            }
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// (line, top-level module) for every `crate::` path: `crate::a::b` names
/// `a`; `crate::{a, b::c}` names `a` and `b`. The binary's
/// `mcp_osquery_server::` paths count the same.
fn crate_paths(code: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    for root in ["crate::", "mcp_osquery_server::"] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            let rest = code[at + root.len()..].trim_start();
            match rest.strip_prefix('{') {
                Some(group) => {
                    for item in top_level_items(group) {
                        found.push((line, first_ident(item)));
                    }
                }
                None => found.push((line, first_ident(rest))),
            }
        }
    }
    found.retain(|(_, m)| !m.is_empty() && *m != "self");
    found
}

/// The comma-separated items of a `{…}` group up to its closing brace.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn first_ident(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Lines before the file's test module (all of them when it has none).
fn lines_before_tests(source: &str) -> usize {
    let lines: Vec<&str> = source.lines().collect();
    lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len())
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_from_the_floors_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} files in {src:?}",
        files.len()
    );
    let mut problems = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&src)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let source = std::fs::read_to_string(path).unwrap_or_default();
        let size = lines_before_tests(&source);
        if size > MAX_LINES {
            problems.push(format!(
                "src/{relative}: {size} lines before its test module, more than {MAX_LINES}; split it"
            ));
        }
        if !NOT_LAYERS.contains(&relative.as_str()) {
            problems.extend(violations(&relative, &source));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn upward_sideways_and_unknown_imports_are_named_with_both_layers() {
    for (file, source, want) in [
        (
            "guard/mod.rs",
            "use crate::cli;\n",
            "src/guard/mod.rs:1: guard (floor 6) imports cli (floor 1), a layer above it",
        ),
        (
            "mcp/dispatch.rs",
            "fn f() {\n    crate::ops::metrics::Metrics::new();\n}\n",
            "src/mcp/dispatch.rs:2: mcp (floor 3) imports ops (floor 3), a sibling on the same floor",
        ),
        (
            "tools/plan.rs",
            "use crate::{\n    guard,\n    server::{pool, reader},\n};\n",
            "src/tools/plan.rs:1: tools (floor 4) imports server (floor 2)",
        ),
        (
            "osquery/run.rs",
            "use crate::nosuch::X;\n",
            "imports nosuch, which has no floor",
        ),
    ] {
        let found = violations(file, source);
        assert!(
            found.len() == 1 && found[0].contains(want),
            "{file}: {found:?}"
        );
    }
}

#[test]
fn comments_strings_and_own_module_paths_are_not_imports() {
    let source = r##"//! See [`crate::cli`].
use crate::tools::Plan; // crate::server in a comment
/* crate::server */ fn f() -> &'static str { "crate::server" }
const R: &str = r#"crate::cli "quoted" "#;
const C: char = '"'; const D: char = '\''; fn g<'a>(x: &'a str) -> &'a str { x }
use crate::mcp::era;
"##;
    assert!(violations("mcp/x.rs", source).is_empty());
    assert_eq!(
        crate_paths(&blank_comments_and_literals(source)),
        vec![(2, "tools"), (6, "mcp")]
    );
    assert_eq!(lines_before_tests("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
}
