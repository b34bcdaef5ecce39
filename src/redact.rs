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
//! Detectors look for a secret-bearing *name* next to a value; a value alone is
//! never judged by its looks, except for a few vendor token prefixes (`ghp_`,
//! `glpat-`, …) that are unambiguous. Every delimiter the scanners stop at is
//! ASCII, so every range boundary is a char boundary.

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
    authorization(value, &mut ranges);
    url_credentials(value, &mut ranges);
    vendor_tokens(value, &mut ranges);
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

/// End of a value that started at `start`: a quoted value runs to its closing
/// quote (the returned range excludes the quotes), a bare one to whitespace or
/// one of `stops`.
fn value_range(value: &str, start: usize, stops: &[u8]) -> (usize, usize) {
    let b = value.as_bytes();
    if let Some(&q) = b.get(start)
        && (q == b'"' || q == b'\'')
    {
        let end = b[start + 1..]
            .iter()
            .position(|&c| c == q)
            .map_or(b.len(), |p| start + 1 + p);
        return (start + 1, end);
    }
    let end = b[start..]
        .iter()
        .position(|&c| c.is_ascii_whitespace() || stops.contains(&c))
        .map_or(b.len(), |p| start + p);
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

/// Splits an option or variable name into lower-case words: `--Client-Secret`
/// → `client`, `secret`; `AWS_SECRET_ACCESS_KEY` → `aws`, `secret`, `access`,
/// `key`; `apiKey` stays `apikey`.
fn name_parts(name: &str) -> Vec<String> {
    name.trim_start_matches('-')
        .split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .map(|p| p.to_ascii_lowercase())
        .collect()
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
    const SECRET_WORDS: &[&str] = &[
        "password",
        "passwd",
        "pass",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "signature",
        "sig",
    ];
    parts.iter().any(|p| SECRET_WORDS.contains(&p.as_str()))
        // `api_key`, `secret_key`, `access_key`…: a key with a qualifier.
        // A bare `key` (`key=value` listings, `--key` file paths) is not enough.
        || (last == "key" && parts.len() > 1)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// `NAME=value` anywhere: env assignments, `--password=x`, `?token=x`,
/// `&api_key=x`, `Password=x;` in connection strings.
fn assignments(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    for (eq, _) in b.iter().enumerate().filter(|&(_, &c)| c == b'=') {
        let start = b[..eq]
            .iter()
            .rposition(|&c| !is_name_byte(c))
            .map_or(0, |p| p + 1);
        let name = &value[start..eq];
        // `==` comparisons and `a=b=c` chains are not assignments of a secret.
        if name.is_empty() || !is_secret_name(name) || b.get(eq + 1) == Some(&b'=') {
            continue;
        }
        ranges.push(value_range(value, eq + 1, b"&;,#"));
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

/// Word-level options: `--password x` (value in the next word), `-pSECRET`
/// after a MySQL-family program, `sshpass -p x`, `redis-cli -a x`.
fn words(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let words = split_words(value);
    let mut program = "";
    for (i, &(s, e)) in words.iter().enumerate() {
        let w = &value[s..e];
        let base = w.rsplit('/').next().unwrap_or(w);
        let next = words.get(i + 1).copied();
        let next_is_value = next.is_some_and(|(ns, _)| value.as_bytes()[ns] != b'-');
        if !w.starts_with('-') {
            if program.is_empty() || MYSQL_LIKE.contains(&base) || base == "sshpass" {
                program = base;
            }
            continue;
        }
        if w.starts_with("--") || (w.len() > 2 && !w.contains('=') && w[1..].contains('-')) {
            // `--password secret` / `-password secret`; `--password=` is an
            // assignment and handled there.
            if !w.contains('=')
                && is_secret_name(w)
                && next_is_value
                && let Some((ns, ne)) = next
            {
                ranges.push((ns, ne));
            }
            continue;
        }
        let mysql = MYSQL_LIKE.contains(&program);
        if (mysql || program == "sshpass") && w.starts_with("-p") && w.len() > 2 {
            ranges.push((s + 2, e));
        } else if ((program == "sshpass" && w == "-p")
            || (base_is(words.first(), value, "redis-cli") && w == "-a"))
            && next_is_value
            && let Some(r) = next
        {
            ranges.push(r);
        } else if w.len() > 2
            && !w.contains('=')
            && is_secret_name(w)
            && next_is_value
            && let Some(r) = next
        {
            // Single-dash long options some tools use: `-password x`.
            ranges.push(r);
        }
    }
}

fn base_is(word: Option<&(usize, usize)>, value: &str, name: &str) -> bool {
    word.and_then(|&(s, e)| value.get(s..e))
        .is_some_and(|w| w.rsplit('/').next() == Some(name))
}

/// `Authorization: <scheme> <credentials>` (also `authorization=`), and a
/// `Bearer <token>` anywhere.
fn authorization(value: &str, ranges: &mut Vec<(usize, usize)>) {
    let b = value.as_bytes();
    let skip_spaces = |mut i: usize| {
        while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
            i += 1;
        }
        i
    };
    let mut from = 0;
    while let Some(at) = find_ci(value, "authorization", from) {
        from = at + 13;
        let mut i = skip_spaces(from);
        if !matches!(b.get(i), Some(b':') | Some(b'=')) {
            continue;
        }
        i = skip_spaces(i + 1);
        let (ws, we) = value_range(value, i, b"\"'");
        // With a scheme word (`Bearer`, `Basic`, `token`…) only what follows it
        // is the secret; a lone word is the secret itself.
        let after = skip_spaces(we);
        // A scheme is a plain word; anything else (an already masked value
        // included) is the credential itself.
        let scheme = we > ws && b[ws..we].iter().all(u8::is_ascii_alphabetic);
        if scheme && after > we && after < b.len() && !b"\"'".contains(&b[after]) {
            let (cs, ce) = value_range(value, after, b"\"'");
            ranges.push((cs, ce));
        } else {
            ranges.push((ws, we));
        }
    }
    let mut from = 0;
    while let Some(at) = find_ci(value, "bearer ", from) {
        from = at + 7;
        let word_start = at == 0 || !b[at - 1].is_ascii_alphanumeric();
        let start = skip_spaces(from);
        let (s, e) = value_range(value, start, b"\"'");
        if word_start && e - s >= 8 {
            ranges.push((s, e));
        }
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

/// Vendor tokens recognisable on sight, even with no name beside them
/// (`git clone https://ghp_…@github.com/…`). The prefix stays for context.
fn vendor_tokens(value: &str, ranges: &mut Vec<(usize, usize)>) {
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "sk-ant-",
        "sk_live_",
        "rk_live_",
    ];
    let b = value.as_bytes();
    for prefix in PREFIXES {
        let mut from = 0;
        while let Some(at) = value.get(from..).and_then(|r| r.find(prefix)) {
            let start = from + at;
            let body = start + prefix.len();
            from = body;
            if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
                continue;
            }
            let len = b[body..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-')
                .count();
            if len >= 10 {
                ranges.push((body, body + len));
            }
        }
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
