//! Masks secrets in osquery result values before they leave the server.
//!
//! Command lines, environment strings and URLs in osquery rows routinely carry
//! passwords and tokens (`mysql -pSECRET`, `--token=…`, `https://u:p@host`).
//! The agent asking the question does not need them, so each secret is replaced
//! by `[REDACTED]` while the text around it (option name, user, host, key
//! block markers) is kept so the row still answers the question.
//!
//! Scanning is hand-written (no regex crate): each detector below reports the
//! byte ranges of secrets, and the ranges are merged and replaced at the end.
//! Detectors look for a secret-bearing *name* next to a value:
//! - `NAME=value` (env, `--opt=`, query strings, `-Dkey.store.password=`),
//!   `--name value`, `Name: value` (HTTP headers, YAML, JSON `"name": "v"`);
//! - a name is split into words at `-`, `_`, `.` and camelCase humps, and is a
//!   secret when a word is a secret word (`password`, `token`, `secret`, …),
//!   ends in one (`PGPASSWORD`), is `pwd` beside another word (`MYSQL_PWD`, but
//!   not `PWD`/`OLDPWD`, the working directory) or is a qualified `key`
//!   (`api_key`, `apiKey`); names of *where* a secret lives (`…_file`,
//!   `…_path`) are not;
//! - program-specific forms: `mysql -pSECRET`, `sshpass -p x`, `redis-cli -a
//!   x`, `curl -u user:pass` (the user stays), `Authorization: <scheme> x`,
//!   `Cookie: a=x; b=y` (names stay), `scheme://user:pass@host`;
//! - words inside quotes count as words, and a quoted word starts a new
//!   command, so `sh -c 'mysql -pSECRET'` is read like the inner command line.
//!
//! A value alone is never judged by its looks, except for vendor token
//! shapes that are unambiguous (`ghp_`, `sk-proj-`, `AKIA` + 16, `AIza` + 35,
//! JSON Web Tokens, …). Every delimiter the scanners stop at is ASCII, so every
//! range boundary is a char boundary. Redaction is best-effort masking of
//! what osquery reports, not a boundary: a `custom_query` can transform a value
//! (`hex(cmdline)`) so that no detector recognises it.

use serde_json::{Map, Value};

/// What a masked secret becomes.
pub const MASK: &str = "[REDACTED]";

/// Returns the value with every recognised secret masked, or `None` when
/// nothing needed masking (so callers can count changes cheaply).
pub fn redact(value: &str) -> Option<String> {
    // Detectors delimit a secret differently (a word ends at whitespace, a
    // quoted value at its quote), so one pass can leave a tail another pass
    // would mask. Repeating to a fixed point makes redaction idempotent: a
    // masked value never changes again.
    let mut current = redact_once(value)?;
    // Bounded: pathological input must not cost more than a few passes'
    // worth of time; real values settle in one or two.
    for _ in 0..64 {
        match redact_once(&current) {
            Some(next) => current = next,
            None => break,
        }
    }
    Some(current)
}

fn redact_once(value: &str) -> Option<String> {
    let mut ranges = Vec::new();
    private_key_blocks(value, &mut ranges);
    assignments(value, &mut ranges);
    words(value, &mut ranges);
    colon_pairs(value, &mut ranges);
    authorization(value, &mut ranges);
    cookies(value, &mut ranges);
    url_credentials(value, &mut ranges);
    vendor_tokens(value, &mut ranges);
    json_web_tokens(value, &mut ranges);
    apply(value, ranges)
}

/// Masks string values of every row in place; returns how many values changed.
pub fn redact_rows(rows: &mut [Map<String, Value>]) -> usize {
    let mut changed = 0;
    for row in rows.iter_mut() {
        for value in row.values_mut() {
            if let Value::String(s) = value
                && let Some(masked) = redact(s)
            {
                *s = masked;
                changed += 1;
            }
        }
    }
    changed
}

/// Replaces the merged ranges; ranges that hold nothing but `[REDACTED]` or
/// are empty do not count, so already-masked text is left alone.
fn apply(value: &str, mut ranges: Vec<(usize, usize)>) -> Option<String> {
    ranges.retain(|&(s, e)| {
        s < e
            && value
                .get(s..e)
                .is_some_and(|t| !t.replace(MASK, "").is_empty())
    });
    if ranges.is_empty() {
        return None;
    }
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut out = String::with_capacity(value.len());
    let mut pos = 0;
    for (s, e) in merged {
        out.push_str(value.get(pos..s)?);
        out.push_str(MASK);
        pos = e;
    }
    out.push_str(value.get(pos..)?);
    Some(out)
}

/// ASCII case-insensitive search from `from`.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || from > h.len() || h.len() - from < n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn is_quote(c: u8) -> bool {
    c == b'"' || c == b'\''
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
        i += 1;
    }
    i
}

/// End of a value that started at `start`: a quoted value runs to its closing
/// quote (the returned range excludes the quotes), a bare one to whitespace or
/// one of `stops`. Quotes ending a bare value close an enclosing quoted
/// string (`sh -c "PGPASSWORD=x"`), so they are not part of it.
fn value_range(value: &str, start: usize, stops: &[u8]) -> (usize, usize) {
    let b = value.as_bytes();
    if let Some(&q) = b.get(start)
        && is_quote(q)
    {
        let end = b[start + 1..]
            .iter()
            .position(|&c| c == q)
            .map_or(b.len(), |p| start + 1 + p);
        return (start + 1, end);
    }
    let mut end = b
        .get(start..)
        .and_then(|rest| {
            rest.iter()
                .position(|&c| c.is_ascii_whitespace() || stops.contains(&c))
        })
        .map_or(b.len(), |p| start + p);
    while end > start && is_quote(b[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// `-----BEGIN … PRIVATE KEY-----` … `-----END … PRIVATE KEY-----`: the body
/// goes, the markers stay. A block with no END is masked to the end.
fn private_key_blocks(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(begin) = find_ci(value, "-----BEGIN ", from) {
        let Some(label_end) = find_ci(value, "-----", begin + 11) else {
            return;
        };
        let label = &value[begin + 11..label_end];
        if !label.to_ascii_uppercase().ends_with("PRIVATE KEY") {
            from = label_end + 5;
            continue;
        }
        let body = label_end + 5;
        let end = find_ci(value, "-----END ", body).unwrap_or(value.len());
        ranges.push((body, end));
        from = end.max(body);
        if from >= value.len() {
            return;
        }
    }
}

/// Splits an option or variable name into lower-case words at `-`, `_`, `.`
/// and camelCase humps: `--Client-Secret` → `client`, `secret`;
/// `AWS_SECRET_ACCESS_KEY` → `aws`, `secret`, `access`, `key`;
/// `keyStorePassword` → `key`, `store`, `password`; `PGPassword` → `pg`,
/// `password`. An all-capitals word (`PGPASSWORD`) stays one word.
fn name_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for chunk in name.trim_start_matches('-').split(['-', '_', '.']) {
        let b = chunk.as_bytes();
        let mut start = 0;
        for i in 1..b.len() {
            let hump = b[i].is_ascii_uppercase()
                && (b[i - 1].is_ascii_lowercase()
                    || b[i - 1].is_ascii_digit()
                    || (b[i - 1].is_ascii_uppercase()
                        && b.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
            if hump {
                parts.push(chunk[start..i].to_ascii_lowercase());
                start = i;
            }
        }
        if start < b.len() {
            parts.push(chunk[start..].to_ascii_lowercase());
        }
    }
    parts
}

/// Words that make a name secret wherever they stand in it.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
    "signature",
    "requirepass",
    "masterauth",
];

/// Endings that make one run-together word secret: `PGPASSWORD`,
/// `clientsecret`, `csrftoken`.
const SECRET_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "secretkey",
    "privatekey",
];

/// Words that are secret only as the last word of a name: `DB_PASS`, `?sig=`,
/// but not `PASS_MAX_DAYS` or `passThrough`.
const SECRET_LAST_WORDS: &[&str] = &["pass", "sig"];

/// Qualifiers of `key` that name something public or structural.
const NOT_SECRET_KEYS: &[&str] = &[
    "public",
    "host",
    "sort",
    "primary",
    "foreign",
    "partition",
    "routing",
    "cache",
    "hot",
];

fn is_secret_word(p: &str) -> bool {
    SECRET_WORDS.contains(&p)
        || SECRET_ENDINGS
            .iter()
            .any(|s| p.len() > s.len() && p.ends_with(s))
}

/// Does a `name=value` or `--name value` carry a secret? Judged on whole
/// words of the name, so `monkey`, `keyboard`, `KEY_MAP` and `bypass` do not
/// match, and names of *where* a secret lives (`key_file`, `password_file`,
/// `token_ttl`, `aws_access_key_id`) are left alone.
fn is_secret_name(name: &str) -> bool {
    let parts = name_parts(name);
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    const NOT_A_SECRET: &[&str] = &[
        "file", "path", "dir", "env", "fd", "ttl", "timeout", "expiry", "id", "type", "length",
        "name", "url", "stdin", "prompt", "required", "command", "cmd", "helper",
    ];
    if NOT_A_SECRET.contains(&last.as_str()) || first == "no" || first == "ask" {
        return false;
    }
    let has = |w: &str| parts.iter().any(|p| p == w);
    parts.iter().any(|p| is_secret_word(p))
        || SECRET_LAST_WORDS.contains(&last.as_str())
        // `MYSQL_PWD`, `DB_PWD`; a lone `PWD` (or `OLDPWD`, `OLD_PWD`) is the
        // working directory.
        || (parts.len() > 1 && has("pwd") && !has("old"))
        // `api_key`, `secret_key`, `apiKey`…: a key with a qualifier. A bare
        // `key` (`key=value` listings, `--key` file paths) is not enough.
        || (last == "key"
            && parts.len() > 1
            && !NOT_SECRET_KEYS.contains(&parts[parts.len() - 2].as_str()))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// `NAME=value` anywhere: env assignments, `--password=x`, `?token=x`,
/// `&api_key=x`, `Password=x;` in connection strings, `-Dx.password=x`.
fn assignments(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    // A bare value runs to the first stop, so an `=` inside the last one
    // would end at the same place: skipping it keeps `a=a=a=…` linear.
    let mut bare_end = 0;
    for (eq, _) in b.iter().enumerate().filter(|&(_, &c)| c == b'=') {
        if eq < bare_end {
            continue;
        }
        let start = b[..eq]
            .iter()
            .rposition(|&c| !is_name_byte(c))
            .map_or(0, |p| p + 1);
        let name = &value[start..eq];
        // `==` comparisons and `a=b=c` chains are not assignments of a secret.
        if name.is_empty() || b.get(eq + 1) == Some(&b'=') || !is_secret_name(name) {
            continue;
        }
        let (vs, ve) = value_range(value, eq + 1, b"&;,#");
        if vs == eq + 1 {
            bare_end = ve;
        }
        ranges.push((vs, ve));
    }
}

/// `Name: value` and `"name": value`: HTTP headers (`-H 'X-Api-Key: x'`),
/// YAML-ish text, JSON. A lone `passwd:` is left alone: it is how
/// nsswitch.conf names the user database.
fn colon_pairs(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    // As in `assignments`: a colon inside the last bare value is skipped.
    let mut bare_end = 0;
    for (colon, _) in b.iter().enumerate().filter(|&(_, &c)| c == b':') {
        if colon < bare_end {
            continue;
        }
        let quoted = colon > 0 && is_quote(b[colon - 1]);
        let name_end = if quoted { colon - 1 } else { colon };
        let name_start = b[..name_end]
            .iter()
            .rposition(|&c| !is_name_byte(c))
            .map_or(0, |p| p + 1);
        if quoted && (name_start == 0 || b[name_start - 1] != b[name_end]) {
            continue;
        }
        let name = &value[name_start..name_end];
        // `scheme://` is a URL, not a pair.
        if name.is_empty()
            || b.get(colon + 1) == Some(&b'/')
            || name.eq_ignore_ascii_case("passwd")
            || !is_secret_name(name)
        {
            continue;
        }
        let start = skip_blanks(b, colon + 1);
        let (vs, ve) = value_range(value, start, b",;}");
        if vs == start {
            bare_end = ve;
        }
        ranges.push((vs, ve));
    }
}

/// Byte ranges of the whitespace-separated words of `value`.
fn split_words(value: &str) -> Vec<(usize, usize)> {
    let b = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

/// Programs whose `-pSECRET` (no space) is a password, not a port.
const MYSQL_LIKE: &[&str] = &[
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlshow",
    "mysqlcheck",
    "mysqlpump",
    "mysqlbinlog",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
    "mariadb-import",
    "mariadb-check",
];

/// Programs with a password option of their own, recognised anywhere in a
/// command line (`sudo mysql …`, `timeout 5 curl …`).
const OTHER_PROGRAMS: &[&str] = &["sshpass", "redis-cli", "curl"];

/// The value given in the word at `(s, e)`: a quoted value runs to its
/// closing quote (possibly over several words); a bare one loses closing
/// quotes and a `;` that belong to the command line around it.
fn word_value(value: &str, s: usize, e: usize) -> (usize, usize) {
    let b = value.as_bytes();
    if b.get(s).copied().is_some_and(is_quote) {
        return value_range(value, s, b"");
    }
    let mut end = e;
    while end > s && (is_quote(b[end - 1]) || b[end - 1] == b';') {
        end -= 1;
    }
    (s, end)
}

/// `user:password` given to curl: only the password goes.
fn user_password(value: &str, (s, e): (usize, usize), ranges: &mut Vec<(usize, usize)>) {
    if let Some(colon) = value.as_bytes()[s..e].iter().position(|&c| c == b':') {
        ranges.push((s + colon + 1, e));
    }
}

/// Word-level options: `--password x` (value in the next word), `-pSECRET`
/// after a MySQL-family program, `sshpass -p x`, `redis-cli -a x`,
/// `curl -u user:x`. A word opening a quote, or following `;`, `|`, `&&`,
/// starts a new command, so inner command lines (`sh -c '…'`) are read too.
fn words(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    let words = split_words(value);
    let mut program = "";
    let mut new_command = true;
    let mut i = 0;
    while i < words.len() {
        let (raw_s, raw_e) = words[i];
        i += 1;
        let raw = &value[raw_s..raw_e];
        let opens_quote = raw.starts_with(['\'', '"']);
        let lead = raw.trim_start_matches(['\'', '"', '(']);
        let s = raw_e - lead.len();
        let w = lead.trim_end_matches(['\'', '"', ')', ';']);
        let e = s + w.len();
        let was_new_command = new_command;
        new_command = raw.ends_with(';') || matches!(raw, "|" | "||" | "&&" | "&");
        if w.is_empty() {
            continue;
        }
        if !w.starts_with('-') {
            let base = w.rsplit('/').next().unwrap_or(w);
            if was_new_command
                || opens_quote
                || MYSQL_LIKE.contains(&base)
                || OTHER_PROGRAMS.contains(&base)
            {
                program = base;
            }
            continue;
        }
        // The next word as an option's value: a quoted one even if it starts
        // with `-`, a bare one only if it does not.
        let next = words.get(i).copied().filter(|&(ns, ne)| {
            let n = &value[ns..ne];
            is_quote(b[ns]) || !(n.starts_with('-') || matches!(n, "|" | "||" | "&&" | ";"))
        });
        let take = |r: (usize, usize), ranges: &mut Vec<(usize, usize)>, i: &mut usize| {
            ranges.push(r);
            // Words inside the value are not options or programs.
            while words.get(*i).is_some_and(|&(ws, _)| ws < r.1.max(r.0 + 1)) {
                *i += 1;
            }
        };
        if w.starts_with("--") || (w.len() > 2 && !w.contains('=') && w[1..].contains('-')) {
            // `--password secret` / `-password secret`; `--password=` is an
            // assignment and handled there.
            if w.contains('=') {
                continue;
            }
            if let Some((ns, ne)) = next {
                let v = word_value(value, ns, ne);
                if program == "curl" && matches!(w, "--user" | "--proxy-user") {
                    user_password(value, v, ranges);
                    take((v.0, v.0), ranges, &mut i);
                } else if is_secret_name(w) {
                    take(v, ranges, &mut i);
                }
            }
            continue;
        }
        if (MYSQL_LIKE.contains(&program) || program == "sshpass")
            && w.starts_with("-p")
            && w.len() > 2
        {
            ranges.push(word_value(value, s + 2, e));
            // sshpass runs the command that follows.
            new_command = new_command || program == "sshpass";
        } else if program == "curl" && (w.starts_with("-u") || w.starts_with("-U")) {
            if w.len() > 2 {
                user_password(value, word_value(value, s + 2, e), ranges);
            } else if let Some((ns, ne)) = next {
                let v = word_value(value, ns, ne);
                user_password(value, v, ranges);
                take((v.0, v.0), ranges, &mut i);
            }
        } else if let Some((ns, ne)) = next
            && ((program == "sshpass" && w == "-p")
                || (program == "redis-cli" && w == "-a")
                || (w.len() > 2 && !w.contains('=') && is_secret_name(w)))
        {
            // The last: single-dash long options some tools use: `-password x`.
            take(word_value(value, ns, ne), ranges, &mut i);
            new_command = new_command || program == "sshpass";
        }
    }
}

/// `Authorization: <scheme> <credentials>` (also `authorization=`,
/// `Proxy-Authorization:`), and a `Bearer <token>` anywhere.
fn authorization(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    let mut from = 0;
    while let Some(at) = find_ci(value, "authorization", from) {
        from = at + 13;
        let mut i = skip_blanks(b, from);
        if !matches!(b.get(i), Some(b':') | Some(b'=')) {
            continue;
        }
        i = skip_blanks(b, i + 1);
        let (ws, we) = value_range(value, i, b"\"'");
        // With a scheme word (`Bearer`, `Basic`, `token`…) only what follows it
        // is the secret; a lone word is the secret itself.
        let after = skip_blanks(b, we);
        // A scheme is a plain word; anything else (an already masked value
        // included) is the credential itself.
        let scheme = we > ws && b[ws..we].iter().all(u8::is_ascii_alphabetic);
        if scheme && after > we && after < b.len() && !is_quote(b[after]) {
            let (cs, ce) = value_range(value, after, b"\"'");
            ranges.push((cs, ce));
            from = from.max(ce);
        } else {
            ranges.push((ws, we));
            from = from.max(we);
        }
    }
    let mut from = 0;
    while let Some(at) = find_ci(value, "bearer ", from) {
        from = at + 7;
        let word_start = at == 0 || !b[at - 1].is_ascii_alphanumeric();
        let start = skip_blanks(b, from);
        let (s, e) = value_range(value, start, b"\"'");
        if word_start && e - s >= 8 {
            ranges.push((s, e));
        }
    }
}

/// `Cookie: a=x; b=y` and `Set-Cookie: a=x`: every value goes, the names stay.
fn cookies(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    let mut from = 0;
    while let Some(at) = find_ci(value, "cookie", from) {
        from = at + 6;
        if at > 0 && b[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let colon = skip_blanks(b, from);
        if b.get(colon) != Some(&b':') {
            continue;
        }
        let mut i = colon + 1;
        loop {
            i = skip_blanks(b, i);
            let Some(name_len) = b[i..]
                .iter()
                .position(|&c| c == b'=' || c == b';' || c.is_ascii_whitespace() || is_quote(c))
            else {
                break;
            };
            let eq = i + name_len;
            if b[eq] != b'=' {
                break;
            }
            let (vs, ve) = value_range(value, eq + 1, b";\"'");
            ranges.push((vs, ve));
            let after = if vs > eq + 1 {
                (ve + 1).min(b.len())
            } else {
                ve
            };
            if b.get(after) != Some(&b';') {
                i = after;
                break;
            }
            i = after + 1;
        }
        // Pairs already read are not searched for another header.
        from = from.max(i);
    }
}

/// `scheme://user:password@host`: the password goes, user and host stay.
fn url_credentials(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    let mut from = 0;
    while let Some(at) = value.get(from..).and_then(|r| r.find("://")) {
        let auth_start = from + at + 3;
        let auth_end = b[auth_start..]
            .iter()
            .position(|&c| c.is_ascii_whitespace() || b"/?#\"'".contains(&c))
            .map_or(b.len(), |p| auth_start + p);
        from = auth_start;
        let authority = &b[auth_start..auth_end];
        let Some(at_sign) = authority.iter().rposition(|&c| c == b'@') else {
            continue;
        };
        if let Some(colon) = authority[..at_sign].iter().position(|&c| c == b':') {
            ranges.push((auth_start + colon + 1, auth_start + at_sign));
        }
    }
}

/// Characters a vendor token body may need.
const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;

/// A vendor token recognisable on sight.
struct Shape {
    prefix: &'static str,
    /// Body length bounds, in body characters.
    min: usize,
    max: usize,
    /// Which bytes the body is made of.
    body: fn(&u8) -> bool,
    /// Classes the body must contain: random tokens do, the hyphenated
    /// words that share a prefix (`sk-learn-…`) usually do not.
    needs: u8,
}

fn word_byte(c: &u8) -> bool {
    c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-'
}

fn alnum_byte(c: &u8) -> bool {
    c.is_ascii_alphanumeric()
}

fn upper_digit_byte(c: &u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

const fn shape(prefix: &'static str, min: usize, body: fn(&u8) -> bool, needs: u8) -> Shape {
    Shape {
        prefix,
        min,
        max: usize::MAX,
        body,
        needs,
    }
}

const SHAPES: &[Shape] = &[
    shape("ghp_", 10, word_byte, 0),
    shape("gho_", 10, word_byte, 0),
    shape("ghu_", 10, word_byte, 0),
    shape("ghs_", 10, word_byte, 0),
    shape("ghr_", 10, word_byte, 0),
    shape("github_pat_", 10, word_byte, 0),
    shape("glpat-", 10, word_byte, 0),
    shape("xoxb-", 10, word_byte, 0),
    shape("xoxp-", 10, word_byte, 0),
    shape("xoxa-", 10, word_byte, 0),
    shape("xoxs-", 10, word_byte, 0),
    shape("xoxr-", 10, word_byte, 0),
    shape("xapp-", 10, word_byte, 0),
    shape("sk-ant-", 10, word_byte, 0),
    shape("sk-proj-", 20, word_byte, 0),
    shape("sk-", 20, word_byte, UPPER | LOWER | DIGIT),
    shape("sk_live_", 10, word_byte, 0),
    shape("rk_live_", 10, word_byte, 0),
    shape("hf_", 30, alnum_byte, UPPER | LOWER),
    shape("npm_", 36, alnum_byte, UPPER | LOWER),
    // AWS access key ids (long-term and temporary): exactly 16 after it.
    Shape {
        prefix: "AKIA",
        min: 16,
        max: 16,
        body: upper_digit_byte,
        needs: 0,
    },
    Shape {
        prefix: "ASIA",
        min: 16,
        max: 16,
        body: upper_digit_byte,
        needs: 0,
    },
    // Google API keys: 39 characters in all.
    Shape {
        prefix: "AIza",
        min: 35,
        max: 35,
        body: word_byte,
        needs: 0,
    },
];

/// Vendor tokens recognisable on sight, even with no name beside them
/// (`git clone https://ghp_…@github.com/…`). The prefix stays for context.
fn vendor_tokens(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    for shape in SHAPES {
        let mut from = 0;
        while let Some(at) = value.get(from..).and_then(|r| r.find(shape.prefix)) {
            let start = from + at;
            let body = start + shape.prefix.len();
            from = body;
            if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
                continue;
            }
            // A longer prefix (`sk-proj-` over `sk-`) has its own shape.
            let rest = &value[start..];
            if SHAPES
                .iter()
                .any(|o| o.prefix.len() > shape.prefix.len() && rest.starts_with(o.prefix))
            {
                continue;
            }
            let len = b[body..].iter().take_while(|c| (shape.body)(c)).count();
            let end = body + len;
            // The prefix again inside this run (`sk-sk-sk-…`) is judged with
            // it; looking again would make such runs quadratic.
            from = end.max(body);
            // A fixed-length token is a whole word, not the start of one.
            if len < shape.min
                || len > shape.max
                || (shape.max != usize::MAX && b.get(end).is_some_and(word_byte))
            {
                continue;
            }
            let token = &b[body..end];
            let has = |f: fn(&u8) -> bool| token.iter().any(f);
            if (shape.needs & UPPER != 0 && !has(u8::is_ascii_uppercase))
                || (shape.needs & LOWER != 0 && !has(u8::is_ascii_lowercase))
                || (shape.needs & DIGIT != 0 && !has(u8::is_ascii_digit))
            {
                continue;
            }
            ranges.push((body, end));
        }
    }
}

fn base64url_byte(c: &u8) -> bool {
    c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-'
}

/// JSON Web Tokens anywhere: `eyJ….eyJ….sig`, each part at least 10
/// base64url characters. The whole token goes.
fn json_web_tokens(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    let part = |start: usize| {
        start
            + b.get(start..)
                .map_or(0, |r| r.iter().take_while(|c| base64url_byte(c)).count())
    };
    let mut from = 0;
    while let Some(at) = value.get(from..).and_then(|r| r.find("eyJ")) {
        let start = from + at;
        from = start + 3;
        if start > 0 && base64url_byte(&b[start - 1]) {
            continue;
        }
        let header_end = part(start);
        if header_end - start < 10
            || b.get(header_end) != Some(&b'.')
            || !b[header_end + 1..].starts_with(b"eyJ")
        {
            continue;
        }
        let payload_end = part(header_end + 1);
        if payload_end - (header_end + 1) < 10 || b.get(payload_end) != Some(&b'.') {
            continue;
        }
        let end = part(payload_end + 1);
        if end - (payload_end + 1) < 10 {
            continue;
        }
        ranges.push((start, end));
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// (input, expected output or None when the value must stay untouched)
    const CASES: &[(&str, Option<&str>)] = &[
        // Masked.
        (
            "app --password=hunter2 --port=5432",
            Some("app --password=[REDACTED] --port=5432"),
        ),
        (
            "app --password hunter2 -v",
            Some("app --password [REDACTED] -v"),
        ),
        ("app --token=abc.def.ghi", Some("app --token=[REDACTED]")),
        ("app --secret s3cr3t", Some("app --secret [REDACTED]")),
        (
            "app --api-key=AKxyz123 --verbose",
            Some("app --api-key=[REDACTED] --verbose"),
        ),
        (
            "oauth2-proxy --client-secret abcdef",
            Some("oauth2-proxy --client-secret [REDACTED]"),
        ),
        (
            "app --client_secret=\"a b c\"",
            Some("app --client_secret=\"[REDACTED]\""),
        ),
        (
            "mysql -u root -pS3cret db",
            Some("mysql -u root -p[REDACTED] db"),
        ),
        (
            "/usr/bin/mysqldump -h db -uadmin -ptopsecret --all-databases",
            Some("/usr/bin/mysqldump -h db -uadmin -p[REDACTED] --all-databases"),
        ),
        ("mariadb -pX1 app", Some("mariadb -p[REDACTED] app")),
        (
            "sshpass -p hunter2 ssh host",
            Some("sshpass -p [REDACTED] ssh host"),
        ),
        (
            "redis-cli -a s3cret ping",
            Some("redis-cli -a [REDACTED] ping"),
        ),
        ("PASSWORD=hunter2", Some("PASSWORD=[REDACTED]")),
        (
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
            Some("AWS_SECRET_ACCESS_KEY=[REDACTED]"),
        ),
        (
            "env GITHUB_TOKEN=abc123 DB_SECRET=x API_KEY=y make",
            Some("env GITHUB_TOKEN=[REDACTED] DB_SECRET=[REDACTED] API_KEY=[REDACTED] make"),
        ),
        (
            "Server=db;User Id=sa;Password=P@ss;",
            Some("Server=db;User Id=sa;Password=[REDACTED];"),
        ),
        (
            "curl -H 'Authorization: Bearer eyJhbGciOi.x.y' https://api",
            Some("curl -H 'Authorization: Bearer [REDACTED]' https://api"),
        ),
        (
            "Authorization: Basic dXNlcjpwYXNz",
            Some("Authorization: Basic [REDACTED]"),
        ),
        (
            "wget --header=\"authorization: token ghx123456\" u",
            Some("wget --header=\"authorization: token [REDACTED]\" u"),
        ),
        (
            "git clone https://user:pa55@github.com/o/r.git",
            Some("git clone https://user:[REDACTED]@github.com/o/r.git"),
        ),
        (
            "postgres://app:s3cr3t@db.internal:5432/app",
            Some("postgres://app:[REDACTED]@db.internal:5432/app"),
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAA=\n-----END RSA PRIVATE KEY-----",
            Some("-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----"),
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn",
            Some("-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]"),
        ),
        (
            "https://api.example.com/v1?token=abc123&page=2",
            Some("https://api.example.com/v1?token=[REDACTED]&page=2"),
        ),
        (
            "https://x/y?page=1&api_key=zzz#frag",
            Some("https://x/y?page=1&api_key=[REDACTED]#frag"),
        ),
        (
            "https://bucket.s3/o?X-Amz-Signature=abcdef",
            Some("https://bucket.s3/o?X-Amz-Signature=[REDACTED]"),
        ),
        (
            "git push https://ghp_abcdefghijklmnop1234@github.com/o/r",
            Some("git push https://ghp_[REDACTED]@github.com/o/r"),
        ),
        ("app -password hunter2", Some("app -password [REDACTED]")),
        // Names with secret word parts: run-together, camelCase, dotted.
        (
            "PGPASSWORD=hunter2 psql -h db",
            Some("PGPASSWORD=[REDACTED] psql -h db"),
        ),
        (
            "MYSQL_PWD=hunter2 mysql",
            Some("MYSQL_PWD=[REDACTED] mysql"),
        ),
        ("DB_PASSWD=hunter2", Some("DB_PASSWD=[REDACTED]")),
        ("DB_PASS=hunter2", Some("DB_PASS=[REDACTED]")),
        (
            "app --accessToken=abc123",
            Some("app --accessToken=[REDACTED]"),
        ),
        ("app --apiKey abc123 -v", Some("app --apiKey [REDACTED] -v")),
        (
            "app --clientSecret abc",
            Some("app --clientSecret [REDACTED]"),
        ),
        (
            "java -Djavax.net.ssl.keyStorePassword=changeit -jar app.jar",
            Some("java -Djavax.net.ssl.keyStorePassword=[REDACTED] -jar app.jar"),
        ),
        (
            "keyStorePassword=changeit",
            Some("keyStorePassword=[REDACTED]"),
        ),
        (
            "spring.datasource.password=s3cret",
            Some("spring.datasource.password=[REDACTED]"),
        ),
        (
            "app --db.password=s3cret --db.user=app",
            Some("app --db.password=[REDACTED] --db.user=app"),
        ),
        (
            "redis-server --requirepass s3cret",
            Some("redis-server --requirepass [REDACTED]"),
        ),
        // Program-specific forms.
        (
            "curl -u admin:hunter2 https://x",
            Some("curl -u admin:[REDACTED] https://x"),
        ),
        (
            "/usr/bin/curl -s --user admin:hunter2 https://x",
            Some("/usr/bin/curl -s --user admin:[REDACTED] https://x"),
        ),
        (
            "curl -uadmin:hunter2 https://x",
            Some("curl -uadmin:[REDACTED] https://x"),
        ),
        ("wget --password=x u", Some("wget --password=[REDACTED] u")),
        (
            "wget --http-password=x u",
            Some("wget --http-password=[REDACTED] u"),
        ),
        (
            "wget --http-password x u",
            Some("wget --http-password [REDACTED] u"),
        ),
        (
            "sshpass -p hunter2 ssh -p 22 host",
            Some("sshpass -p [REDACTED] ssh -p 22 host"),
        ),
        (
            "redis-cli -h h -a s3cret ping",
            Some("redis-cli -h h -a [REDACTED] ping"),
        ),
        ("sudo mysql -pS3cret", Some("sudo mysql -p[REDACTED]")),
        ("mysql -p'se cret' db", Some("mysql -p'[REDACTED]' db")),
        // HTTP headers, YAML-ish and JSON pairs.
        (
            "curl -H 'X-Api-Key: abcd1234' https://x",
            Some("curl -H 'X-Api-Key: [REDACTED]' https://x"),
        ),
        (
            "curl -H \"X-Auth-Token: abc\" u",
            Some("curl -H \"X-Auth-Token: [REDACTED]\" u"),
        ),
        (
            "curl -H 'Authorization: token ghx123' u",
            Some("curl -H 'Authorization: token [REDACTED]' u"),
        ),
        (
            "curl -H 'Cookie: session=abc123; theme=dark' u",
            Some("curl -H 'Cookie: session=[REDACTED]; theme=[REDACTED]' u"),
        ),
        (
            "curl -H 'Proxy-Authorization: Basic dXNlcjpwYXNz' u",
            Some("curl -H 'Proxy-Authorization: Basic [REDACTED]' u"),
        ),
        ("PASSWORD: hunter2", Some("PASSWORD: [REDACTED]")),
        (
            "{\"password\":\"hunter2\",\"user\":\"me\"}",
            Some("{\"password\":\"[REDACTED]\",\"user\":\"me\"}"),
        ),
        // Vendor token shapes with no name beside them.
        (
            "echo sk-proj-AbCdEf1234567890GhIjKl",
            Some("echo sk-proj-[REDACTED]"),
        ),
        (
            "echo sk-AbCdEf1234567890GhIjKlMn",
            Some("echo sk-[REDACTED]"),
        ),
        ("aws AKIAIOSFODNN7EXAMPLE", Some("aws AKIA[REDACTED]")),
        ("ASIAY34FZKBOKMUTVV7A", Some("ASIA[REDACTED]")),
        (
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
            Some("hf_[REDACTED]"),
        ),
        ("xoxp-1234-5678-abcdef", Some("xoxp-[REDACTED]")),
        ("xapp-1-A0-123456789", Some("xapp-[REDACTED]")),
        (
            "key=AIzaSyA1234567890abcdefghijklmnopqrstuv",
            Some("key=AIza[REDACTED]"),
        ),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghij",
            Some("github_pat_[REDACTED]"),
        ),
        (
            "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            Some("npm_[REDACTED]"),
        ),
        ("glpat-abcdefghij1234567890", Some("glpat-[REDACTED]")),
        (
            "app eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x",
            Some("app [REDACTED] x"),
        ),
        // Inside quoted inner command lines.
        (
            "bash -c 'mysql -uroot -pSECRET db'",
            Some("bash -c 'mysql -uroot -p[REDACTED] db'"),
        ),
        (
            "bash -c 'mysql -pSECRET'",
            Some("bash -c 'mysql -p[REDACTED]'"),
        ),
        (
            "sh -c \"PGPASSWORD=x psql\"",
            Some("sh -c \"PGPASSWORD=[REDACTED] psql\""),
        ),
        (
            "sh -c \"PGPASSWORD=x\"",
            Some("sh -c \"PGPASSWORD=[REDACTED]\""),
        ),
        (
            "sh -c 'redis-cli -a s3cret ping'",
            Some("sh -c 'redis-cli -a [REDACTED] ping'"),
        ),
        (
            "sh -c 'ls; curl -u me:pw u'",
            Some("sh -c 'ls; curl -u me:[REDACTED] u'"),
        ),
        ("x --token \"a b\" y", Some("x --token \"[REDACTED]\" y")),
        (
            "app --password '-x3Y9' y",
            Some("app --password '[REDACTED]' y"),
        ),
        // Untouched.
        ("/usr/bin/python3", None),
        ("app --port=5432 --host=db", None),
        ("keyboard", None),
        ("ssh -p 22 user@host", None),
        ("ssh -p22 host", None),
        ("KEY_MAP=us", None),
        ("monkey=1", None),
        ("/etc/ssl/private", None),
        ("/etc/ssl/private/server.key", None),
        (
            "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
            None,
        ),
        ("postgres: checkpointer", None),
        ("https://example.com/path?page=2&q=x", None),
        ("ssh://git@github.com/o/r.git", None),
        ("nginx --ssl-key-file=/etc/ssl/private/key.pem", None),
        ("app --password-file=/run/secrets/db", None),
        ("psql --no-password -h db app", None),
        ("docker login --password-stdin -u me", None),
        ("AWS_ACCESS_KEY_ID=AKIAEXAMPLE", None),
        ("mysql -P 3306 -h db", None),
        ("mysql -p app", None),
        ("TOKEN_TTL=3600", None),
        (
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            None,
        ),
        ("key=value", None),
        ("a == b", None),
        ("PWD=/home/me", None),
        ("Bearer", None),
        ("bypass=1 passenger=2", None),
        // Untouched: look-alikes of the shapes above.
        ("OLDPWD=/home/x", None),
        ("OLD_PWD=/home/x", None),
        ("PASS_MAX_DAYS=99999", None),
        ("app --passThrough=true", None),
        ("app --publicKey=ssh-ed25519", None),
        ("app --hostKey /etc/ssh/ssh_host_ed25519_key", None),
        ("keyStoreType=PKCS12 keyStorePath=/etc/ks.p12", None),
        ("app --secretName db-creds", None),
        ("GIT_ASKPASS=/usr/libexec/git-askpass", None),
        ("app --max-tokens=4096 --tokenizer=bert", None),
        ("https://x/y?sortKey=name", None),
        ("docker run --user 1000:1000 img", None),
        ("curl -u admin https://x", None),
        ("bash -c 'mysql -p app'", None),
        ("ssh -p 22 host; mysql -P 3306 db", None),
        ("pip install sk-learn-compatible-models-v2", None),
        ("task-abcdefghijklmnopqrstuvwxyz0123ABC", None),
        ("AKIAIOSFODNN7EXAMPLEXX", None),
        ("hf_transfer_enabled_for_large_files_ok", None),
        ("npm_config_cache=/home/u/.npm", None),
        ("passwd:         files systemd", None),
        ("time: 12:30:00", None),
        ("Content-Type: application/json", None),
        ("X-Request-Id: abc123", None),
        ("eyJhbGciOi", None),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.x", None),
        ("grep -r cookie /etc", None),
        ("sshd: /usr/sbin/sshd -D", None),
        ("", None),
        ("--password=[REDACTED]", None),
        ("--password=[REDACTED][REDACTED]", None),
        (
            "Authorization: \"[REDACTED] next\"",
            Some("Authorization: \"[REDACTED]\""),
        ),
        ("Authorization: abc123", Some("Authorization: [REDACTED]")),
        (
            "mysql -p?token='a#b -t x='c d",
            Some("mysql -p[REDACTED] d"),
        ),
    ];

    #[test]
    fn table() {
        let mut failures = Vec::new();
        for (input, expected) in CASES {
            let got = redact(input);
            if got.as_deref() != *expected {
                failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(CASES.len() >= 40);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn redaction_is_idempotent() {
        for (input, _) in CASES {
            if let Some(once) = redact(input) {
                assert_eq!(redact(&once), None, "{input:?} -> {once:?}");
            }
        }
    }

    #[test]
    fn rows_count_changed_values() {
        let mut rows: Vec<Map<String, Value>> = vec![
            json!({"cmdline": "mysql -pabc", "name": "mysql", "pid": "1"}),
            json!({"cmdline": "/usr/bin/python3", "name": "python3", "pid": 2}),
            json!({"cmdline": "app --token=t", "path": "https://u:p@h/"}),
        ]
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect();
        assert_eq!(redact_rows(&mut rows), 3);
        assert_eq!(rows[0]["cmdline"], "mysql -p[REDACTED]");
        assert_eq!(rows[1]["pid"], 2);
        assert_eq!(rows[2]["path"], "https://u:[REDACTED]@h/");
        assert_eq!(redact_rows(&mut rows), 0);
    }

    #[test]
    fn multibyte_text_survives() {
        assert_eq!(
            redact("ünïcode PASSWORD=pässwörd ✓").as_deref(),
            Some("ünïcode PASSWORD=[REDACTED] ✓")
        );
        assert_eq!(
            redact("日本語 --token 秘密 ok").as_deref(),
            Some("日本語 --token [REDACTED] ok")
        );
    }
}
