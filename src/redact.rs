//! Masks secrets in what the model sees: result rows, notes and error texts.
//!
//! Values from a host — command lines, environment strings, URLs, config
//! fragments, osquery's own error lines — routinely carry passwords and
//! tokens. The agent asking a question does not need them, so each recognised
//! secret becomes `[REDACTED]` while what surrounds it (the option name, the
//! user, the host, a key's armour, a token's vendor prefix) stays, so the value
//! still answers the question. This module is a pure leaf: text in, text out.
//!
//! # Rules
//!
//! Each rule reports byte ranges; the ranges are merged and replaced at the
//! end. Every rule is one forward pass with no backtracking, a look back
//! never leaves the name or word at hand, and scans that could repeat are
//! cached (`Ahead`) or resumed past, so redaction is linear in the length
//! of the value (a unit test holds it to that). `docs/redaction.md` is the user-facing version of
//! this list, with examples; `tests/redact/*.txt` are the cases.
//!
//! 1. **Private keys** (`armour`): the body of any `-----BEGIN … PRIVATE
//!    KEY-----` or `… PRIVATE KEY BLOCK-----` armour (RSA, EC, DSA, OPENSSH,
//!    ENCRYPTED, PGP, SSH2; spaces inside the dashes allowed) and PuTTY's
//!    `Private-Lines:`. The markers stay; an armour with no END is masked to
//!    the end. Public armour (certificates, public keys, signatures) is left
//!    alone and exempt from rule 7.
//! 2. **Secret names** (`secret_name`): a name is split into words at `-`,
//!    `_`, `.`, `:`, `/` and camelCase humps (`AWS_SECRET_ACCESS_KEY`,
//!    `clientSecret`, `PGPassword`). It names a secret when a word is in
//!    `SECRET_WORDS` (or a run-together word ends in one: `PGPASSWORD`,
//!    `csrftoken`), two neighbours make one (`PASS_WORD`, `SESSION_ID`), or
//!    the *last* word is in `LAST_WORDS` (`DB_PASS`, `GITHUB_PAT`, `AUTH`) —
//!    unless a word of `DESCRIBING` comes after it: `PASSWORD_MIN_LENGTH`,
//!    `TOKEN_TTL`, `password_file` and `AWS_ACCESS_KEY_ID` describe a secret
//!    without holding it. `key` needs a qualifier that is not in
//!    `PUBLIC_KEYS` (`api_key`, not `sort_key`, `ssh_key`, `KEYBOARD`); `pwd`
//!    alone is the working directory except in options and connection
//!    strings; a lone `key`, `code` or `session` is secret only as a URL query
//!    parameter (`?key=`, OAuth `?code=`). A name that ends in a last word
//!    (`Strength::Weak`) keeps a value that is a path.
//! 3. **Pairs** (`pairs`): `NAME=value` (environment, `--opt=`, query
//!    strings, ODBC/JDBC connection strings, mount options) and `name: value`
//!    (HTTP headers, YAML, JSON `"name" : "value"`, also with escaped quotes;
//!    OpenSSL's `pass:x`) whose name is secret. A value ends at its closing quote, at `}` when it
//!    opened with `{` (ODBC), else at whitespace or at the separator of the
//!    list it stands in (`&` in queries, `;`/`,` in lists). `Authorization`
//!    keeps its scheme (`Bearer [REDACTED]`), `Cookie` keeps cookie names.
//!    Values that only point at a secret (`$VAR`, `env:X`, `file:…`, and paths
//!    for the weaker names) are left.
//! 4. **Command lines** (`command_line`): words are split like a shell would
//!    (quotes group; a quoted word holding spaces is read again as a command
//!    line, so `sh -c '…'` is covered). Options whose name is secret take the
//!    next word (`--password x`, `-storepass x`). Short flags mean a password
//!    only to some programs, so `PROGRAMS` says which: `-pSECRET` for the
//!    MySQL family, `-p x` for sshpass, registry logins, MongoDB, cqlsh,
//!    `-w` for ldap*, `-P` for zip, sqlcmd, mosquitto, `/p:` for FreeRDP,
//!    `-u user:x` for curl, `-U user%x` for Samba, `-u user,x` for lftp, … and
//!    where `-p` is a port (ssh, psql, redis-cli, docker run). Elsewhere an
//!    attached `-pS3cret` is masked when it looks like a password rather than
//!    flags (`looks_like_password`). Also SQL `PASSWORD 'x'` / `IDENTIFIED BY 'x'`, Oracle
//!    `user/x@db`, and a few positional passwords (`htpasswd -b`,
//!    `rabbitmqctl add_user`, `mc alias set`, `wpa_passphrase`).
//! 5. **URLs** (`urls`): the password in `scheme://user:password@host`,
//!    where the password may hold `/`, `?` or `#` when an `@` and a host follow
//!    within the same word; a user that is itself a token (Sentry DSNs, 20+
//!    character tokens); scheme-less `user:password@host`
//!    (`HTTPS_PROXY=u:p@proxy:3128`); the secret path of Slack, Discord and
//!    Teams webhooks; JDBC `thin:user/password@`.
//! 6. **Token shapes** (`tokens`): `SHAPES`, a table of vendor prefixes
//!    with the body each one has (GitHub, GitLab, Slack, Stripe, SendGrid,
//!    Vault, Google, Docker, DigitalOcean, PyPI, npm, AWS, OpenAI, Anthropic,
//!    Hugging Face, …; the prefix stays), Telegram bot tokens, JSON Web Tokens.
//! 7. **High entropy** (`entropy`): a run of base64 characters (letters,
//!    digits, `+ - _ /`, `=` padding) of 32 or more with capitals, small
//!    letters, two digits and frequent class changes, as random tokens have
//!    and identifiers do not. Never: hex (digests, UUIDs), absolute paths (a
//!    run starting with `/` is judged segment by segment), dotted names (`.`
//!    ends a run), and `ORDINARY_PREFIXES`: SSH and DER public keys, base64
//!    certificates, data URIs, `sha512-…`/`SHA256:…`/`h1:…` hashes.
//!
//! # Limits
//!
//! Redaction keeps secrets out of answers to honest questions; it is not a
//! boundary. A query can transform a value (`hex(cmdline)`) so no rule sees
//! it; a short secret with no name beside it and no known shape (`app
//! s3cret`) is not caught; a bare value ends at whitespace, so an unquoted
//! password containing a space shows its tail. The known misses are listed in
//! `tests/redact/secrets.txt`.

use serde_json::{Map, Value};
use std::sync::OnceLock;

/// What a masked secret becomes.
pub const MASK: &str = "[REDACTED]";

/// Returns the value with every recognised secret masked, or `None` when
/// nothing needed masking (so callers can count changes cheaply).
pub fn redact(value: &str) -> Option<String> {
    // Rules delimit a secret differently (a word ends at whitespace, a quoted
    // value at its quote), so a pass can leave a tail another pass would mask.
    // Repeating to a fixed point makes redaction idempotent: a masked value
    // never changes again. Real values settle in one or two passes; the bound
    // keeps pathological input linear.
    let mut current = redact_once(value)?;
    for _ in 0..MAX_PASSES {
        match redact_once(&current) {
            Some(next) => current = next,
            None => break,
        }
    }
    Some(current)
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

const MAX_PASSES: usize = 8;

fn redact_once(value: &str) -> Option<String> {
    let t = Text::new(value);
    let mut found = Found::default();
    armour(&t, &mut found);
    pairs(&t, &mut found);
    bearer(&t, &mut found);
    command_line(&t, 0, t.b.len(), &mut found);
    urls(&t, &mut found);
    tokens(&t, &mut found);
    entropy(&t, &mut found);
    apply(value, found.secret)
}

/// What the rules found.
#[derive(Default)]
struct Found {
    secret: Vec<(usize, usize)>,
    /// Stretches rule 7 must not judge: public armour.
    public: Vec<(usize, usize)>,
}

impl Found {
    /// An empty range is dropped when applied (it holds no mask-free text).
    fn mask(&mut self, range: (usize, usize)) {
        self.secret.push(range);
    }
}

/// Replaces the merged ranges. A range holding nothing but `[REDACTED]` does
/// not count, so already-masked text is left alone; one touching a mask
/// swallows it, so masks never pile up side by side.
fn apply(value: &str, mut ranges: Vec<(usize, usize)>) -> Option<String> {
    let mask = MASK.as_bytes();
    let b = value.as_bytes();
    let mut grown = merge(&mut ranges);
    for (s, e) in grown.iter_mut() {
        while b.get(..*s).is_some_and(|before| before.ends_with(mask)) {
            *s -= mask.len();
        }
        while b.get(*e..).is_some_and(|after| after.starts_with(mask)) {
            *e += mask.len();
        }
    }
    let mut merged = merge(&mut grown);
    merged.retain(|&(s, e)| value.get(s..e).is_some_and(|t| !only_masks(t)));
    if merged.is_empty() {
        return None;
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

/// Sorted, non-overlapping, touching ranges joined.
fn merge(ranges: &mut [(usize, usize)]) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

fn only_masks(mut t: &str) -> bool {
    while let Some(rest) = t.strip_prefix(MASK) {
        t = rest;
    }
    t.is_empty()
}

// ---------------------------------------------------------------- the text

const NONE: u32 = u32::MAX;

/// A value with its quotes paired once, so every rule finds a closing quote
/// in constant time.
struct Text<'a> {
    b: &'a [u8],
    /// For each quote byte, the next unescaped quote of the same kind.
    close: Vec<u32>,
}

impl<'a> Text<'a> {
    fn new(s: &'a str) -> Self {
        let b = s.as_bytes();
        let mut close = Vec::new();
        if b.len() < NONE as usize && b.iter().any(|&c| is_quote(c)) {
            close = vec![NONE; b.len()];
            let mut last = [NONE; 2];
            for i in (0..b.len()).rev() {
                if let Some(k) = quote_kind(b, i) {
                    close[i] = last[k];
                    last[k] = i as u32;
                }
            }
        }
        Text { b, close }
    }

    /// Where the quote at `i` closes, if `i` is an unescaped quote that does
    /// (only those have an entry).
    fn closing(&self, i: usize) -> Option<usize> {
        match self.close.get(i) {
            Some(&c) if c != NONE => Some(c as usize),
            _ => None,
        }
    }

    /// A value starting at `vs` and ending before `ve`, without the quotes
    /// around it or left unmatched at its end (they belong to a string
    /// around it); quotes inside stay (`ab'c d'` is one shell word).
    fn unquote(&self, vs: usize, ve: usize) -> (usize, usize) {
        let s = vs + usize::from(self.b[vs..ve].first().is_some_and(|&c| is_quote(c)));
        let mut e = ve;
        while e > s && is_quote(self.b[e - 1]) && !self.closes_inside(s, e - 1) {
            e -= 1;
        }
        (s, e)
    }

    /// Does some quote in `s..q` close at `q`?
    fn closes_inside(&self, s: usize, q: usize) -> bool {
        (s..q).any(|i| self.closing(i) == Some(q))
    }
}

fn is_quote(c: u8) -> bool {
    c == b'"' || c == b'\''
}

/// 0 for `"`, 1 for `'`, unless escaped by an odd run of backslashes.
fn quote_kind(b: &[u8], i: usize) -> Option<usize> {
    let k = match b.get(i) {
        Some(b'"') => 0,
        Some(b'\'') => 1,
        _ => return None,
    };
    let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
    (backslashes % 2 == 0).then_some(k)
}

fn is_space(c: u8) -> bool {
    c.is_ascii_whitespace()
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| c == b' ' || c == b'\t') {
        i += 1;
    }
    i
}

/// First occurrence of `needle` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let at = i + hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&c| c == first)?;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn ends_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[hay.len() - needle.len()..].eq_ignore_ascii_case(needle)
}

/// The first byte at or after a position that a predicate accepts, cached:
/// asked at increasing positions, the scans never overlap, so a rule asking
/// once per match stays linear however many matches there are.
struct Ahead {
    from: usize,
    at: usize,
}

impl Ahead {
    /// Nothing asked yet.
    fn new() -> Self {
        Ahead { from: 1, at: 0 }
    }

    fn first(&mut self, b: &[u8], pos: usize, pred: impl Fn(u8) -> bool) -> usize {
        // Nothing in `from..at` matched, so any `pos` there finds `at` again.
        if !(self.from..=self.at).contains(&pos) {
            self.from = pos;
            self.at = pos + b[pos..].iter().take_while(|&&c| !pred(c)).count();
        }
        self.at
    }
}

// ------------------------------------------------------ rule 1: private keys

/// Armour labels whose body is a private key.
#[rustfmt::skip]
const PRIVATE_ARMOUR: &[&[u8]] = &[b"PRIVATE KEY", b"PRIVATE KEY BLOCK", b"SECRET KEY BLOCK"];

fn armour(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut from = 0;
    while let Some(at) = find(b, b"BEGIN", from) {
        from = at + 5;
        if dashes_before(b, at).is_none() {
            continue;
        }
        let label_start = skip_blanks(b, at + 5);
        let Some(label_len) = b[label_start..].iter().take(80).position(|&c| c == b'-') else {
            continue;
        };
        let label = b[label_start..label_start + label_len].trim_ascii_end();
        let body = label_start
            + label_len
            + b[label_start + label_len..]
                .iter()
                .take_while(|&&c| c == b'-')
                .count();
        if label.is_empty() || body - (label_start + label_len) < 3 {
            continue;
        }
        let end = armour_end(b, body);
        if PRIVATE_ARMOUR.iter().any(|l| label.ends_with(l)) {
            found.mask((body, end.unwrap_or(b.len())));
        } else {
            found.public.push((body, end.unwrap_or(b.len())));
        }
        match end {
            Some(e) => from = from.max(e),
            None => break,
        }
    }
    putty(b, found);
}

/// Start of the dashes before the next `END`.
fn armour_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(at) = find(b, b"END", i) {
        if let Some(start) = dashes_before(b, at) {
            return Some(start);
        }
        i = at + 3;
    }
    None
}

/// Where the dashes before an armour word start: `-----BEGIN`, `----- END`,
/// `---- BEGIN` (SSH2) all have three or more.
fn dashes_before(b: &[u8], at: usize) -> Option<usize> {
    let blanks = b[..at]
        .iter()
        .rev()
        .take(8)
        .take_while(|&&c| c == b' ')
        .count();
    let dashes = b[..at - blanks]
        .iter()
        .rev()
        .take(5)
        .take_while(|&&c| c == b'-')
        .count();
    (dashes >= 3).then_some(at - blanks - dashes)
}

/// PuTTY key files: the lines after `Private-Lines: N` up to the MAC.
fn putty(b: &[u8], found: &mut Found) {
    if let Some(at) = find(b, b"Private-Lines:", 0) {
        let line_end = b[at..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |p| at + p + 1);
        let end = find(b, b"Private-MAC:", line_end)
            .or_else(|| find(b, b"Private-Hash:", line_end))
            .unwrap_or(b.len());
        found.mask((line_end, end));
    }
}

// ------------------------------------------------------ rule 2: secret names

/// Where a name stands: a few words are secret only in some places.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `NAME=value` in the open: environment, config.
    Env,
    /// `--name value`, `--name=value`, `-name value`.
    Option,
    /// After `;` or `,`: connection strings, mount options.
    List,
    /// After `?` or `&`: a URL query parameter.
    Query,
    /// `name: value`, `"name": value`: headers, YAML, JSON.
    Field,
}

/// How sure a name is: a `Weak` one (a last word: `ssl_key`, `credentials`,
/// `-auth`) often names a file holding the secret, so a value that is a path
/// is left (`GOOGLE_APPLICATION_CREDENTIALS=/etc/gcp.json`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Strength {
    Strong,
    Weak,
}

/// Words that make a name secret wherever they stand, also at the end of a
/// run-together word (`PGPASSWORD`, `clientsecret`, `csrftoken`).
#[rustfmt::skip]
const SECRET_WORDS: &[&str] = &[
    "password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "secretkey",
    "privatekey", "signature", "sessionid", "sessid", "authorization",
];

/// Whole words that are secret wherever they stand, never as an ending
/// (`keypass`, but not `bypass`).
#[rustfmt::skip]
const SECRET_WHOLE: &[&str] = &[
    "psk", "requirepass", "masterauth", "storepass", "keypass", "srcstorepass", "deststorepass",
    "srckeypass", "destkeypass", "setcookie",
];

/// Words that are secret only as the last word of a name: `DB_PASS`,
/// `--pw`, `AUTH`, `?sig=`, `GITHUB_PAT`, but not `PASS_MAX_DAYS`,
/// `AUTH_METHOD`, `PATH`.
#[rustfmt::skip]
const LAST_WORDS: &[&str] = &[
    "pass", "pw", "auth", "sig", "pat", "cookie", "bearer", "jwt", "otp",
];

/// More last words, for credentials in general.
#[rustfmt::skip]
const LAST_WEAK: &[&str] = &["creds", "credential", "credentials"];

/// Words that, after a secret word, make the name describe the secret rather
/// than hold it: `password_file`, `TOKEN_TTL`, `PASSWORD_MIN_LENGTH`,
/// `--secret-name`, `AWS_ACCESS_KEY_ID`, `--password-stdin`.
#[rustfmt::skip]
const DESCRIBING: &[&str] = &[
    "file", "files", "path", "paths", "dir", "directory", "env", "var", "fd", "stdin", "ttl",
    "timeout", "expiry", "expires", "expiration", "expire", "age", "lifetime", "id", "ids", "type",
    "kind", "length", "len", "min", "max", "size", "bits", "count", "name", "names", "url", "uri",
    "endpoint", "host", "port", "prompt", "required", "require", "command", "cmd", "helper",
    "policy", "method", "mode", "format", "algorithm", "algo", "alg", "header", "field", "param",
    "location", "provider", "source", "enabled", "enable", "disabled", "hint", "reset", "rotation",
    "interval", "days", "limit", "strength", "complexity", "history", "rounds", "scheme",
    "encoding", "version", "prefix", "suffix", "label", "user", "username", "login", "email",
    "store", "manager", "backend", "cache", "scope", "scopes", "audience", "issuer", "server",
    "arn", "ref", "mount", "namespace", "jar", "sock", "socket", "agent", "hash", "digest",
    "fingerprint", "checksum",
];

/// A first word that turns the name into a switch about a secret.
#[rustfmt::skip]
const NEGATING: &[&str] = &[
    "no", "ask", "skip", "without", "prompt", "show", "hide", "read",
];

/// Qualifiers of `key` that name something public or structural.
#[rustfmt::skip]
const PUBLIC_KEYS: &[&str] = &[
    "public", "pub", "host", "sort", "primary", "foreign", "partition", "range", "hash", "routing",
    "cache", "hot", "ssh", "gpg", "pgp", "tls", "ssl", "x509", "signing", "kms", "idempotency",
    "dedup", "object", "row", "column", "lookup", "group", "map", "shortcut",
];

/// Every secret word above holds one of these: a name holding none is
/// passed over at a glance (a unit test keeps the lists in step).
#[rustfmt::skip]
const TRIGGERS: &[&str] = &[
    "pass", "pw", "secret", "token", "key", "sig", "sess", "auth", "psk", "pat", "cookie",
    "bearer", "jwt", "otp", "cred", "code",
];

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Full names that look secret and are not.
#[rustfmt::skip]
const NOT_SECRET: &[&str] = &["xdg_session_id", "x-amz-credential"];

/// Bytes of a name; brackets for form fields (`user[password]=`).
fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']')
}

fn eq_word(part: &[u8], word: &str) -> bool {
    part.eq_ignore_ascii_case(word.as_bytes())
}

fn in_list(part: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| eq_word(part, w))
}

/// Does `a` followed by `b` spell a secret word (`pass`+`word`, `api`+`key`)?
fn joins_secret(a: &[u8], b: &[u8]) -> bool {
    SECRET_WORDS.iter().any(|w| {
        let w = w.as_bytes();
        w.len() == a.len() + b.len()
            && w[..a.len()].eq_ignore_ascii_case(a)
            && w[a.len()..].eq_ignore_ascii_case(b)
    })
}

/// Splits a name into words at separators and camelCase humps.
fn split_name(name: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let chunks = name
        .split(|c| matches!(c, b'-' | b'_' | b'.' | b':' | b'/' | b'[' | b']' | b' '))
        .filter(|c| !c.is_empty());
    for chunk in chunks {
        let mut start = 0;
        for i in 1..chunk.len() {
            if hump(chunk, i) {
                parts.push(&chunk[start..i]);
                start = i;
            }
        }
        parts.push(&chunk[start..]);
    }
    parts
}

/// Does a camelCase word start at `i`: `clientSecret`, `db2Pass`, `PGPassword`?
/// An all-capitals word (`PGPASSWORD`) stays one word.
fn hump(w: &[u8], i: usize) -> bool {
    let prev = w[i - 1];
    w[i].is_ascii_uppercase()
        && (prev.is_ascii_lowercase()
            || prev.is_ascii_digit()
            || (prev.is_ascii_uppercase() && w.get(i + 1).is_some_and(u8::is_ascii_lowercase)))
}

/// Is `name` the name of a secret where it stands? See rule 2 at the top.
fn secret_name(name: &[u8], place: Place) -> Option<Strength> {
    if in_list(name, NOT_SECRET) || !TRIGGERS.iter().any(|t| contains_ci(name, t.as_bytes())) {
        return None;
    }
    let parts = split_name(name);
    if parts.first().is_some_and(|p| in_list(p, NEGATING)) {
        return None;
    }
    let mut verdict = None;
    for (k, p) in parts.iter().enumerate() {
        // A secret word alone or at the end of a run-together one.
        let strong = SECRET_WORDS.iter().any(|w| ends_with_ci(p, w.as_bytes()))
            || in_list(p, SECRET_WHOLE)
            || (k > 0 && joins_secret(parts[k - 1], p));
        if strong {
            verdict = Some(Strength::Strong);
        } else if in_list(p, DESCRIBING) {
            verdict = None;
        } else if k + 1 == parts.len() {
            verdict = verdict.or(last_word(&parts, place));
        }
    }
    verdict
}

/// The verdict of a name's last word alone.
fn last_word(parts: &[&[u8]], place: Place) -> Option<Strength> {
    let n = parts.len();
    let p = parts[n - 1];
    if in_list(p, LAST_WORDS) || in_list(p, LAST_WEAK) {
        return Some(Strength::Weak);
    }
    if eq_word(p, "key") {
        return match n {
            1 => (place == Place::Query).then_some(Strength::Weak),
            _ => (!in_list(parts[n - 2], PUBLIC_KEYS)).then_some(Strength::Weak),
        };
    }
    if eq_word(p, "pwd") {
        // `MYSQL_PWD`, ODBC `PWD=`, `--pwd`; a lone `PWD` (or `OLDPWD`,
        // `OLD_PWD`) is the working directory.
        let qualified = n > 1 && !parts.iter().any(|w| eq_word(w, "old"));
        let place_says = n == 1 && matches!(place, Place::Option | Place::List | Place::Query);
        return (qualified || place_says).then_some(Strength::Strong);
    }
    if (eq_word(p, "code") || eq_word(p, "session")) && n == 1 && place == Place::Query {
        return Some(Strength::Strong);
    }
    None
}

/// Switch values: `--client-cert-auth=true`, `--auth=none`.
#[rustfmt::skip]
const SWITCHES: &[&str] = &["true", "false", "yes", "no", "on", "off", "none", "null"];

/// A value that only points at a secret, or is a switch: `$VAR`, `${VAR}`,
/// `env:NAME`, `file:/path`, `fd:3`, `stdin`, `-`, `true`.
fn is_reference(v: &[u8]) -> bool {
    let var = v
        .strip_prefix(b"${")
        .and_then(|r| r.strip_suffix(b"}"))
        .or_else(|| v.strip_prefix(b"$"));
    if let Some(name) = var {
        return !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    }
    v == b"-"
        || v.eq_ignore_ascii_case(b"stdin")
        || in_list(v, SWITCHES)
        || [&b"env:"[..], b"file:", b"fd:"]
            .iter()
            .any(|p| starts_with_ci(v, p))
}

/// A filesystem path: `/etc/ssl/private/k.pem`, `./creds.json`, `~/.aws/c`.
/// A base64 secret may start with `/`, so a path needs a second `/` or a
/// `.` and nothing outside path characters.
fn is_path(v: &[u8]) -> bool {
    let rest = [&b"/"[..], b"./", b"../", b"~/"]
        .iter()
        .find_map(|p| v.strip_prefix(*p));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-'))
            && r.iter().any(|&c| c == b'/' || c == b'.')
    })
}

/// Should a value under a name of this strength be masked?
fn worth_masking(v: &[u8], strength: Strength) -> bool {
    !(v.is_empty() || is_reference(v) || (strength == Strength::Weak && is_path(v)))
}

// ------------------------------------------------------------ rule 3: pairs

fn pairs(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut i = 0;
    while i < b.len() {
        let resume = match b[i] {
            b'=' => assignment(t, i, found),
            b':' => field(t, i, found),
            _ => None,
        };
        // A value is not searched for more pairs: `a=a=a=…` stays linear.
        i = resume.unwrap_or(i + 1);
    }
}

/// `NAME=value`; returns where the value ended.
fn assignment(t: &Text, eq: usize, found: &mut Found) -> Option<usize> {
    let b = t.b;
    if eq == 0 || b.get(eq + 1) == Some(&b'=') || matches!(b[eq - 1], b'=' | b'!' | b'<' | b'>') {
        return None;
    }
    let ns = name_start(b, eq)?;
    let name = &b[ns..eq];
    let before = ns.checked_sub(1).map(|k| b[k]);
    let place = match before {
        Some(b'?' | b'&') => Place::Query,
        Some(b';' | b',') => Place::List,
        _ if b[ns] == b'-' => Place::Option,
        _ => Place::Env,
    };
    let strength = secret_name(name, place)?;
    let enclosing = before.filter(|&c| is_quote(c));
    let (vs, ve) = value_at(t, eq + 1, place, enclosing);
    if ends_with_ci(name, b"cookie") && b[vs..ve].contains(&b'=') {
        // `--cookie=sid=x; theme=y`: the cookie names stay.
        cookie_list(t, vs, ve, false, found);
    } else if is_authorization(name) {
        credentials(b, vs, ve, found);
    } else if worth_masking(&b[vs..ve], strength) {
        found.mask((vs, ve));
    }
    Some(ve)
}

/// Start of the name that ends at `end`.
fn name_start(b: &[u8], end: usize) -> Option<usize> {
    // A run of name bytes ends at one `=` or one `:` at most, so these
    // look-backs never cover the same bytes twice.
    let len = b[..end]
        .iter()
        .rev()
        .take_while(|&&c| is_name_byte(c))
        .count();
    (len > 0).then_some(end - len)
}

/// The value of a pair starting at `pos`.
fn value_at(t: &Text, pos: usize, place: Place, enclosing: Option<u8>) -> (usize, usize) {
    let b = t.b;
    // `"PASSWORD="`: the string around the pair ends; the value is empty.
    if b.get(pos).is_some_and(|&c| Some(c) == enclosing) {
        return (pos, pos);
    }
    if let Some(c) = t.closing(pos) {
        return (pos + 1, c);
    }
    if b.get(pos) == Some(&b'\\') && b.get(pos + 1) == Some(&b'"') {
        let close = find(b, b"\\\"", pos + 2).unwrap_or(b.len());
        return (pos + 2, close);
    }
    if b.get(pos) == Some(&b'{') && matches!(place, Place::List | Place::Env) {
        let close = b[pos..]
            .iter()
            .position(|&c| c == b'}')
            .map_or(b.len(), |p| pos + p);
        return (pos + 1, close);
    }
    let mut e = pos;
    while e < b.len() {
        let c = b[e];
        // A quoted stretch inside a bare value is part of it: `a'b c'`.
        if let Some(close) = t.closing(e)
            && Some(c) != enclosing
        {
            e = close + 1;
            continue;
        }
        let stop = is_space(c)
            || Some(c) == enclosing
            || match place {
                Place::Query => matches!(c, b'&' | b'#' | b'"' | b'\'' | b'<' | b'>'),
                Place::List => matches!(c, b';' | b','),
                Place::Field => matches!(c, b',' | b'}' | b']'),
                _ => matches!(c, b';' | b',' | b'&') && starts_pair(b, e + 1),
            };
        if stop {
            break;
        }
        e += 1;
    }
    let (vs, ve) = t.unquote(pos, e);
    let list_end = b[vs..ve]
        .iter()
        .rev()
        .take_while(|&&c| c == b';' || c == b',')
        .count();
    (vs, ve - list_end)
}

/// Does a `name=` start at `i` (blanks allowed before it)?
fn starts_pair(b: &[u8], i: usize) -> bool {
    let i = skip_blanks(b, i);
    let len = b[i..].iter().take_while(|&&c| is_name_byte(c)).count();
    len > 0 && b.get(i + len) == Some(&b'=')
}

/// `name: value`, `"name" : "value"`, `\"name\":\"value\"`; returns where the
/// value ended.
fn field(t: &Text, colon: usize, found: &mut Found) -> Option<usize> {
    let b = t.b;
    // `scheme://` is a URL, `::` an address or a path separator.
    if matches!(b.get(colon + 1), Some(b'/' | b':')) {
        return None;
    }
    let mut j = colon
        - b[..colon]
            .iter()
            .rev()
            .take(8)
            .take_while(|&&c| c == b' ')
            .count();
    let mut closing = None;
    if j > 0 && is_quote(b[j - 1]) {
        closing = Some(b[j - 1]);
        j -= 1;
        if j > 0 && b[j - 1] == b'\\' {
            j -= 1;
        }
    }
    let ns = name_start(b, j)?;
    let name = &b[ns..j];
    let before = ns.checked_sub(1).map(|k| b[k]);
    let json = closing.is_some() && before == closing;
    // Not a pair: `//token:x-oauth-basic@host` (URL userinfo, rule 5),
    // `arn:aws:…:secret:app` (a colon list), `-storepass:env` (an option,
    // rule 4), `x": `, nsswitch's `passwd:` and SQLite's prose `unrecognized
    // token: "…"`.
    if matches!(before, Some(b'/' | b'@' | b':'))
        || name[0] == b'-'
        || (closing.is_some() && !json)
        || eq_word(name, "passwd")
        || (ns >= 13 && b[ns - 13..ns].eq_ignore_ascii_case(b"unrecognized "))
    {
        return None;
    }
    if ends_with_ci(name, b"cookie") {
        return Some(cookie_list(
            t,
            colon + 1,
            b.len(),
            ends_with_ci(name, b"set-cookie"),
            found,
        ));
    }
    let strength = secret_name(name, Place::Field)?;
    let start = skip_blanks(b, colon + 1);
    let first = *b.get(start)?;
    if matches!(first, b'{' | b'[') {
        return None;
    }
    let enclosing = if json {
        None
    } else {
        before.filter(|&c| is_quote(c))
    };
    let (vs, ve) = if json || t.closing(start).is_some() {
        value_at(t, start, Place::Field, None)
    } else {
        let line = enclosing.is_some() || at_line_start(b, ns);
        let stop = |c: u8| c == b'\n' || Some(c) == enclosing || (!line && is_space(c));
        let mut e = start
            + b[start..]
                .iter()
                .position(|&c| stop(c))
                .unwrap_or(b.len() - start);
        if is_authorization(name) && matches!(b.get(e), Some(b' ' | b'\t')) {
            // `Authorization: Bearer x` on a command line: the scheme and one
            // more shell word (a line or a quoted header ran to its end).
            e = skip_blanks(b, e);
            while e < b.len() && !is_space(b[e]) {
                e = t.closing(e).map_or(e, |c| c) + 1;
            }
        }
        let (vs, ve) = t.unquote(start, e);
        let tail = b[vs..ve]
            .iter()
            .rev()
            .take_while(|&&c| is_space(c) || matches!(c, b',' | b';' | b'}'))
            .count();
        (vs, ve - tail)
    };
    if is_authorization(name) {
        credentials(b, vs, ve, found);
    } else if worth_masking(&b[vs..ve], strength) {
        found.mask((vs, ve));
    }
    Some(ve)
}

/// Is `i` the first thing on its line (after indentation or a YAML `- `)?
fn at_line_start(b: &[u8], i: usize) -> bool {
    let lead = b[..i]
        .iter()
        .rev()
        .take_while(|&&c| c == b' ' || c == b'\t' || c == b'-')
        .count();
    i == lead || b[i - lead - 1] == b'\n'
}

fn is_authorization(name: &[u8]) -> bool {
    ends_with_ci(name, b"authorization")
}

/// Scheme words an `Authorization` value starts with; alone they are no secret.
#[rustfmt::skip]
const SCHEMES: &[&str] = &[
    "basic", "bearer", "digest", "negotiate", "ntlm", "token", "apikey", "key", "ssws", "dpop",
    "jwt", "hoba", "mutual", "oauth",
];

/// An `Authorization` value: with a scheme word (`Bearer`, `Basic`,
/// `token`, `AWS4-HMAC-SHA256`…) only what follows it goes.
fn credentials(b: &[u8], s: usize, e: usize, found: &mut Found) {
    let v = &b[s..e];
    if is_reference(v) {
        return;
    }
    let word = v.iter().position(|&c| is_space(c)).unwrap_or(v.len());
    let scheme = &v[..word];
    let is_scheme = !scheme.is_empty()
        && scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-');
    let rest = skip_blanks(b, s + word);
    if is_scheme && rest < e {
        found.mask((rest, e));
    } else if !(is_scheme && in_list(scheme, SCHEMES)) {
        found.mask((s, e));
    }
}

/// `Cookie: a=x; b=y` (and curl's `-b 'a=x; b=y'`): every value goes, the
/// names stay. `Set-Cookie` has one cookie; what follows are attributes.
fn cookie_list(t: &Text, from: usize, limit: usize, first_only: bool, found: &mut Found) -> usize {
    let b = &t.b[..limit];
    let mut i = from;
    loop {
        i = skip_blanks(b, i);
        let name_end = i + b[i..]
            .iter()
            .take_while(|&&c| !(c == b'=' || c == b';' || is_space(c) || is_quote(c)))
            .count();
        match b.get(name_end) {
            Some(b'=') => {}
            // A cookie with no value (`flag;`): the list goes on.
            Some(b';') if name_end > i => {
                i = name_end + 1;
                continue;
            }
            _ => return i,
        }
        let vs = name_end + 1;
        let ve = match t.closing(vs) {
            Some(c) if c < limit => c + 1,
            _ => {
                vs + b[vs..]
                    .iter()
                    .take_while(|&&c| c != b';' && !is_space(c))
                    .count()
            }
        };
        found.mask(t.unquote(vs, ve));
        if first_only || b.get(ve) != Some(&b';') {
            return ve;
        }
        i = ve + 1;
    }
}

/// `Bearer <token>` anywhere (a header split over words, a log line).
fn bearer(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut after_bearer = false;
    let mut i = 0;
    while i < b.len() {
        if is_space(b[i]) {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && !is_space(b[i]) {
            i += 1;
        }
        let word = &b[s..i];
        if after_bearer {
            let len = word
                .iter()
                .position(|&c| is_quote(c) || c == b',')
                .unwrap_or(word.len());
            if len >= 8 {
                found.mask((s, s + len));
            }
        }
        // `'Bearer`, `:Bearer`: what stands before the word does not count.
        let lead = word
            .iter()
            .take_while(|c| !c.is_ascii_alphanumeric())
            .count();
        after_bearer = word[lead..].eq_ignore_ascii_case(b"bearer");
    }
}

// ----------------------------------------------------- rule 4: command lines

/// How a flag carries its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `-pSECRET` only (`-p value` means something else).
    Attached,
    /// `-p value` only.
    Separate,
    Both,
}

/// What a flag's value is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The value is the secret.
    Whole,
    /// The secret follows this byte: `user:secret`, `user%secret`.
    After(u8),
    /// `name=value; name=value` (or a cookie file name).
    Cookies,
    /// Not a secret here (a port, a PID): known so rule 4's `-p` guess stays off.
    Plain,
}

struct Flag {
    word: &'static str,
    form: Form,
    kind: Kind,
    /// Only after this subcommand (`docker login -p`, not `docker run -p`).
    after: Option<&'static str>,
}

const fn flag(word: &'static str, form: Form, kind: Kind) -> Flag {
    Flag {
        word,
        form,
        kind,
        after: None,
    }
}

const fn after(sub: &'static str, word: &'static str, form: Form, kind: Kind) -> Flag {
    Flag {
        word,
        form,
        kind,
        after: Some(sub),
    }
}

/// A password given as an operand: the last operand of the command, once
/// `trigger` appeared and at least `min` operands followed it.
struct Positional {
    trigger: Trigger,
    min: usize,
}

enum Trigger {
    /// One of these subcommands (`rabbitmqctl add_user u PASSWORD`).
    Word(&'static [&'static str]),
    /// This letter in a short-option cluster (`htpasswd -bc file u PASSWORD`).
    Letter(u8),
    /// Always (`wpa_passphrase ssid PASSPHRASE`).
    Always,
}

struct Program {
    names: &'static [&'static str],
    flags: &'static [Flag],
    positional: Option<Positional>,
    /// Operands `user/password@db` (Oracle tools).
    logon: bool,
    /// `tool config set <secret name> <value>`: a bare secret name takes the
    /// next word.
    settings: bool,
}

const fn positional(trigger: Trigger, min: usize) -> Option<Positional> {
    Some(Positional { trigger, min })
}

const fn program(names: &'static [&'static str], flags: &'static [Flag]) -> Program {
    Program {
        names,
        flags,
        positional: None,
        logon: false,
        settings: false,
    }
}

use Form::{Attached, Both, Separate};
use Kind::{After, Cookies, Plain, Whole};

/// Programs whose flags carry secrets, or whose `-p` is something else.
/// From each tool's manual: the flag, how its value is given, what it is.
#[rustfmt::skip]
static PROGRAMS: &[Program] = &[
    // `-p value` would be a database name: the password must be attached.
    program(&["mysql", "mysqldump", "mysqlimport", "mysqlshow", "mysqlcheck", "mysqlpump",
              "mysqlbinlog", "mysqlslap", "mysqlsh", "mysql_upgrade", "mariadb", "mariadb-dump",
              "mariadb-import", "mariadb-check", "mariadb-show", "mariadb-binlog",
              "mariadb-slap", "mariadb-upgrade"],
            &[flag("-p", Attached, Whole)]),
    // `mysqladmin -u root password NEW`.
    program(&["mysqladmin", "mariadb-admin"],
            &[flag("-p", Attached, Whole), flag("password", Separate, Whole)]),
    program(&["mydumper", "myloader", "sshpass", "rdesktop", "useradd", "usermod", "mongo",
              "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat",
              "mongotop", "mongofiles", "cqlsh", "cypher-shell", "smbmap", "enum4linux", "ncftp",
              "ncftpget", "ncftpput", "ncftpls", "hdbsql"],
            &[flag("-p", Both, Whole)]),
    program(&["crackmapexec", "nxc", "netexec"],
            &[flag("-p", Both, Whole), flag("-H", Both, Whole)]),
    // Registry and cluster logins; elsewhere `-p` publishes a port.
    program(&["docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "crane",
              "finch", "az", "oc", "cf"],
            &[after("login", "-p", Both, Whole), flag("-p", Both, Plain)]),
    program(&["ldapsearch", "ldapmodify", "ldapadd", "ldapdelete", "ldapwhoami", "ldapcompare",
              "ldapmodrdn", "ldapexop", "ldapurl"],
            &[flag("-w", Both, Whole)]),
    program(&["ldappasswd"],
            &[flag("-w", Both, Whole), flag("-s", Both, Whole), flag("-a", Both, Whole)]),
    program(&["keytool", "jarsigner"], &[flag("-new", Separate, Whole)]),
    program(&["7z", "7za", "7zr", "7zz", "rar", "unrar"], &[flag("-p", Attached, Whole)]),
    program(&["zip", "unzip", "zipcloak"], &[flag("-P", Both, Whole)]),
    program(&["sqlcmd", "bcp", "osql", "isql", "tsql", "sqsh", "fisql"],
            &[flag("-P", Both, Whole)]),
    program(&["mosquitto_pub", "mosquitto_sub", "mosquitto_rr"],
            &[flag("-P", Both, Whole), flag("-p", Both, Plain)]),
    program(&["ipmitool"],
            &[flag("-P", Both, Whole), flag("-y", Separate, Whole), flag("-k", Separate, Whole),
              flag("-p", Both, Plain)]),
    program(&["redis-cli", "redis-benchmark", "keydb-cli", "valkey-cli"],
            &[flag("-a", Separate, Whole), flag("-p", Both, Plain)]),
    program(&["plink", "pscp", "psftp"],
            &[flag("-pw", Separate, Whole), flag("-P", Both, Plain)]),
    program(&["xfreerdp", "xfreerdp3", "wlfreerdp", "wlfreerdp3", "sdl-freerdp", "sdl-freerdp3"],
            &[flag("/p:", Attached, Whole), flag("/password:", Attached, Whole),
              flag("/gp:", Attached, Whole), flag("/pth:", Attached, Whole)]),
    program(&["curl"],
            &[flag("-u", Both, After(b':')), flag("--user", Separate, After(b':')),
              flag("-U", Both, After(b':')), flag("--proxy-user", Separate, After(b':')),
              flag("-E", Both, After(b':')), flag("--cert", Separate, After(b':')),
              flag("-b", Both, Cookies), flag("--cookie", Separate, Cookies)]),
    program(&["smbclient", "rpcclient", "smbcacls", "smbget", "smbtree", "smbcquotas", "net",
              "winexe"],
            &[flag("-U", Both, After(b'%')), flag("--user", Separate, After(b'%')),
              flag("--username", Separate, After(b'%'))]),
    program(&["lftp"], &[flag("-u", Both, After(b','))]),
    program(&["openssl"], &[flag("-k", Separate, Whole)]),
    program(&["nmcli"],
            &[flag("password", Separate, Whole), flag("wifi-sec.psk", Separate, Whole),
              flag("802-1x.password", Separate, Whole), flag("wifi-sec.wep-key0", Separate, Whole)]),
    // Where `-p` (or `-P`) is a port, a PID or a preserve switch.
    program(&["ssh", "autossh", "psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_basebackup",
              "pgbench", "createdb", "dropdb", "createuser", "dropuser", "vacuumdb", "reindexdb",
              "clusterdb", "pg_isready", "nc", "ncat", "netcat", "nmap", "iperf", "iperf3", "ps",
              "top", "pidstat", "strace", "ltrace", "gdb", "perf", "lsof", "pmap", "prlimit",
              "taskset", "mkdir", "cp", "install", "rsync", "tar", "patch", "unshare", "nsenter",
              "memcached", "agetty"],
            &[flag("-p", Both, Plain)]),
    program(&["scp", "sftp"], &[flag("-P", Both, Plain), flag("-p", Both, Plain)]),
    // Passwords as operands: the last one, after a trigger.
    Program { positional: positional(Trigger::Letter(b'b'), 2), ..program(&["htpasswd"], &[]) },
    Program {
        positional: positional(Trigger::Word(&["add_user", "change_password", "authenticate_user"]), 2),
        ..program(&["rabbitmqctl"], &[])
    },
    // MinIO: `mc alias set NAME URL ACCESS_KEY SECRET_KEY`.
    Program { positional: positional(Trigger::Word(&["set", "add"]), 4), ..program(&["mc"], &[]) },
    Program { positional: positional(Trigger::Always, 2), ..program(&["wpa_passphrase"], &[]) },
    Program {
        logon: true,
        ..program(&["sqlplus", "rman", "expdp", "impdp", "exp", "imp", "sqlldr", "dgmgrl", "sql"], &[])
    },
    Program {
        settings: true,
        ..program(&["aws", "git", "npm", "yarn", "pnpm", "pip", "pip3", "poetry", "composer",
                    "conda"], &[])
    },
];

/// Program names, sorted for lookup.
fn program_index() -> &'static [(&'static [u8], &'static Program)] {
    static INDEX: OnceLock<Vec<(&'static [u8], &'static Program)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: Vec<_> = PROGRAMS
            .iter()
            .flat_map(|p| p.names.iter().map(move |n| (n.as_bytes(), p)))
            .collect();
        index.sort_unstable_by_key(|(n, _)| *n);
        index
    })
}

/// The program a word runs: its base name, without `.exe`.
fn lookup_program(word: &[u8]) -> Option<&'static Program> {
    let base = word.rsplit(|&c| c == b'/').next().unwrap_or(word);
    let base = base.strip_suffix(b".exe").unwrap_or(base);
    let index = program_index();
    index
        .binary_search_by_key(&base, |(n, _)| n)
        .ok()
        .map(|k| index[k].1)
}

/// What is known about the command being read.
#[derive(Default)]
struct Command {
    program: Option<&'static Program>,
    /// The subcommand some flags wait for (`login`) appeared.
    sub: Option<&'static str>,
    triggered: bool,
    operands: usize,
    last_operand: Option<(usize, usize)>,
    identified: bool,
}

impl Command {
    fn start(program: &'static Program) -> Self {
        let triggered = matches!(
            program.positional,
            Some(Positional {
                trigger: Trigger::Always,
                ..
            })
        );
        Command {
            program: Some(program),
            triggered,
            ..Command::default()
        }
    }

    /// The end of a command: a positional password is now known.
    fn finish(&self, found: &mut Found) {
        if let Some(Positional { min, .. }) = self.program.and_then(|p| p.positional.as_ref())
            && self.triggered
            && self.operands >= *min
            && let Some(r) = self.last_operand
        {
            found.mask(r);
        }
    }
}

fn command_line(t: &Text, from: usize, to: usize, found: &mut Found) {
    let (words, inner) = shell_words(t, from, to);
    // Quoted stretches holding spaces are command lines of their own
    // (`sh -c '…'`). A stretch holds no quote of its own kind, so this goes
    // two levels deep at most.
    for (s, e) in inner {
        command_line(t, s, e, found);
    }
    let mut cmd = Command::default();
    let mut k = 0;
    while k < words.len() {
        let (ws, we) = words[k];
        k += 1;
        let (s, e) = core(t, ws, we);
        let w = &t.b[s..e];
        if matches!(w, b"|" | b"||" | b"&&" | b";" | b"&" | b"|&") {
            cmd.finish(found);
            cmd = Command::default();
            continue;
        }
        k += word(t, &mut cmd, (s, e), words.get(k).copied(), found);
        if t.b[we - 1] == b';' {
            cmd.finish(found);
            cmd = Command::default();
        }
    }
    cmd.finish(found);
}

/// Words of `from..to` split at unquoted whitespace, and the quoted
/// stretches among them that hold whitespace. A quote closing inside the
/// range groups what lies between; an unclosed one is a plain character.
type Words = Vec<(usize, usize)>;

fn shell_words(t: &Text, from: usize, to: usize) -> (Words, Words) {
    let b = t.b;
    let (mut words, mut inner) = (Vec::new(), Vec::new());
    let mut i = from;
    while i < to {
        if is_space(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < to && !is_space(b[i]) {
            i = match t.closing(i) {
                Some(c) if c < to => {
                    if b[i..c].iter().any(|&x| is_space(x)) {
                        inner.push((i + 1, c));
                    }
                    c + 1
                }
                _ => i + 1,
            };
        }
        words.push((start, i));
    }
    (words, inner)
}

/// A word without the quotes around it, a subshell's `(` or a closing `;`.
fn core(t: &Text, ws: usize, we: usize) -> (usize, usize) {
    let b = t.b;
    let s = ws + b[ws..we].iter().take_while(|&&c| c == b'(').count();
    let e = we
        - b[s..we]
            .iter()
            .rev()
            .take_while(|&&c| c == b';' || c == b')')
            .count();
    t.unquote(s, e)
}

/// The next word as an option's value: a quoted one even if it starts with
/// `-`, a bare one only if it does not.
fn value_word(t: &Text, next: Option<(usize, usize)>) -> Option<(usize, usize)> {
    let (ns, ne) = next?;
    let (vs, ve) = core(t, ns, ne);
    let v = &t.b[vs..ve];
    let quoted = vs > ns;
    (!v.is_empty()
        && (quoted || !(v.starts_with(b"-") || matches!(v, b"|" | b"||" | b"&&" | b";"))))
    .then_some((vs, ve))
}

/// Reads one word; returns how many following words it used as its value.
fn word(
    t: &Text,
    cmd: &mut Command,
    (s, e): (usize, usize),
    next: Option<(usize, usize)>,
    found: &mut Found,
) -> usize {
    let b = t.b;
    let w = &b[s..e];
    // SQL on a command line: `WITH PASSWORD 'x'`, `IDENTIFIED BY 'x'`.
    let sql = eq_word(w, "password") || (eq_word(w, "by") && cmd.identified);
    cmd.identified = eq_word(w, "identified");
    if sql
        && let Some((ns, ne)) = next
        && b[ns] == b'\''
    {
        found.mask(core(t, ns, ne));
        return 1;
    }
    if let Some(p) = cmd.program
        && let Some(used) = program_flag(t, cmd, p, (s, e), next, found)
    {
        return used;
    }
    if w.first() == Some(&b'-') {
        return option(t, cmd, (s, e), next, found);
    }
    operand(t, cmd, (s, e), next, found)
}

/// A flag of the current program's table; `None` when no flag matched.
fn program_flag(
    t: &Text,
    cmd: &Command,
    p: &Program,
    (s, e): (usize, usize),
    next: Option<(usize, usize)>,
    found: &mut Found,
) -> Option<usize> {
    let w = &t.b[s..e];
    for f in p.flags {
        if f.after.is_some() && f.after != cmd.sub {
            continue;
        }
        let fw = f.word.as_bytes();
        if w == fw && f.form != Attached {
            return Some(match value_word(t, next) {
                Some(v) => {
                    apply_kind(t, f.kind, v, found);
                    1
                }
                None => 0,
            });
        }
        if let Some(rest) = w.strip_prefix(fw) {
            // `--user=me:x` for a long flag, `-pSECRET` for an attached one.
            let long = fw.starts_with(b"--");
            let vs = match rest.first() {
                Some(b'=') if long => Some(e - rest.len() + 1),
                _ if !long && f.form != Separate => Some(e - rest.len()),
                _ => None,
            };
            if let Some(vs) = vs {
                apply_kind(t, f.kind, t.unquote(vs, e), found);
                return Some(0);
            }
        }
    }
    None
}

fn apply_kind(t: &Text, kind: Kind, (vs, ve): (usize, usize), found: &mut Found) {
    let v = &t.b[vs..ve];
    match kind {
        Kind::Whole if worth_masking(v, Strength::Strong) => found.mask((vs, ve)),
        Kind::After(sep) => {
            if let Some(p) = v.iter().position(|&c| c == sep) {
                found.mask((vs + p + 1, ve));
            }
        }
        // A value with no `=` is a cookie file: the list ends at once.
        Kind::Cookies => {
            cookie_list(t, vs, ve, false, found);
        }
        _ => {}
    }
}

/// An option word not in the program's table.
fn option(
    t: &Text,
    cmd: &mut Command,
    (s, e): (usize, usize),
    next: Option<(usize, usize)>,
    found: &mut Found,
) -> usize {
    let b = t.b;
    let w = &b[s..e];
    let program = cmd.program;
    if let Some(Positional {
        trigger: Trigger::Letter(l),
        ..
    }) = program.and_then(|p| p.positional.as_ref())
        && !w.starts_with(b"--")
        && w[1..].contains(l)
    {
        cmd.triggered = true;
    }
    // `--password=x` is a pair (rule 3).
    if w.contains(&b'=') {
        return 0;
    }
    if (w.starts_with(b"--") || w.len() >= 5)
        && let Some(strength) = secret_name(w, Place::Option)
    {
        let Some(v) = value_word(t, next) else {
            return 0;
        };
        if worth_masking(&b[v.0..v.1], strength) {
            found.mask(v);
        }
        return 1;
    }
    // `-pSECRET` with no known program (known ones say what their flags
    // mean): a guess, by the value's looks.
    if program.is_none()
        && let Some(rest) = w.strip_prefix(b"-p")
        && !rest.starts_with(b"-")
    {
        let v = t.unquote(s + 2, e);
        if looks_like_password(&b[v.0..v.1]) {
            found.mask(v);
        }
    }
    0
}

/// An attached `-p` value that reads as a password, not as more flags
/// (`-pthread`, `-pedantic`), a camelCase option (`-prefsLen`), a port
/// (`-p8080`) or a path: six or more characters, letters with a digit, or
/// starting with a capital.
fn looks_like_password(v: &[u8]) -> bool {
    let letters = v.iter().any(u8::is_ascii_alphabetic);
    v.len() >= 6
        && ((letters && v.iter().any(u8::is_ascii_digit)) || v[0].is_ascii_uppercase())
        && !v
            .iter()
            .any(|c| matches!(c, b'/' | b'=' | b'.' | b',' | b':'))
}

/// A word that is not an option: a program, a subcommand or an operand.
fn operand(
    t: &Text,
    cmd: &mut Command,
    (s, e): (usize, usize),
    next: Option<(usize, usize)>,
    found: &mut Found,
) -> usize {
    let w = &t.b[s..e];
    if let Some(p) = lookup_program(w) {
        cmd.finish(found);
        *cmd = Command::start(p);
        return 0;
    }
    let Some(p) = cmd.program else {
        return 0;
    };
    if let Some(sub) = p
        .flags
        .iter()
        .filter_map(|f| f.after)
        .find(|sub| eq_word(w, sub))
    {
        cmd.sub = Some(sub);
    }
    if let Some(Positional {
        trigger: Trigger::Word(subs),
        ..
    }) = &p.positional
        && in_list(w, subs)
    {
        cmd.triggered = true;
        cmd.operands = 0;
        return 0;
    }
    cmd.operands += 1;
    cmd.last_operand = Some((s, e));
    if p.logon {
        logon(t.b, s, e, found);
    }
    if p.settings
        && secret_name(w, Place::Option).is_some()
        && let Some(v) = value_word(t, next)
    {
        found.mask(v);
        return 1;
    }
    0
}

/// Oracle's `user/password@db` (also `userid=user/password`).
fn logon(b: &[u8], s: usize, e: usize, found: &mut Found) {
    let w = &b[s..e];
    let w = if starts_with_ci(w, b"userid=") {
        &w[7..]
    } else {
        w
    };
    let Some(slash) = w.iter().position(|&c| c == b'/') else {
        return;
    };
    let user = &w[..slash];
    let is_user = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'#');
    if !user.is_empty() && user.iter().all(is_user) {
        let pass = e - w.len() + slash + 1;
        let len = b[pass..e]
            .iter()
            .take_while(|&&c| c != b'@' && !is_space(c))
            .count();
        found.mask((pass, pass + len));
    }
}

// -------------------------------------------------------------- rule 5: URLs

/// Ends a URL: whitespace, quotes, angle brackets.
fn ends_url(c: u8) -> bool {
    is_space(c) || is_quote(c) || c == b'<' || c == b'>'
}

/// Webhook hosts (or host endings) whose path after the prefix is the secret.
#[rustfmt::skip]
const WEBHOOKS: &[(&[u8], &[u8])] = &[
    (b"hooks.slack.com", b"/services/"),
    (b"hooks.slack.com", b"/workflows/"),
    (b"hooks.slack.com", b"/triggers/"),
    (b"discord.com", b"/api/webhooks/"),
    (b"discordapp.com", b"/api/webhooks/"),
    (b".webhook.office.com", b"/webhookb2/"),
];

fn urls(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut from = 0;
    let mut next_at = Ahead::new();
    let mut url_end = Ahead::new();
    while let Some(p) = find(b, b"://", from) {
        let a = p + 3;
        from = a;
        let strict = a + b[a..]
            .iter()
            .position(|&c| ends_url(c) || matches!(c, b'/' | b'?' | b'#'))
            .unwrap_or(b.len() - a);
        if let Some(at) = b[a..strict].iter().rposition(|&c| c == b'@') {
            userinfo(b, a, a + at, found);
        } else if let Some(colon) = b[a..strict].iter().position(|&c| c == b':')
            && b.get(strict)
                .is_some_and(|c| matches!(c, b'/' | b'?' | b'#'))
        {
            // RFC 3986 ends the authority at the first `/`, `?` or `#`, but a
            // password holding one is common: when an `@` follows within the
            // same word, and what stood after the `:` was not a port, that
            // was a password.
            let port = &b[a + colon + 1..strict];
            let at = next_at.first(b, strict, |c| c == b'@' || ends_url(c));
            if !port.is_empty() && !port.iter().all(u8::is_ascii_digit) && b.get(at) == Some(&b'@')
            {
                found.mask((a + colon + 1, at));
            }
        }
        for (host, path) in WEBHOOKS {
            if ends_with_ci(&b[a..strict], host) && b[strict..].starts_with(path) {
                let s = strict + path.len();
                found.mask((s, url_end.first(b, s, ends_url)));
            }
        }
    }
    schemeless(b, found);
    let mut from = 0;
    while let Some(p) = find(b, b"thin:", from) {
        from = p + 5;
        let e = from
            + b[from..]
                .iter()
                .position(|&c| ends_url(c))
                .unwrap_or(b.len() - from);
        logon(b, from, e, found);
        from = e;
    }
}

/// `user:password@` — the password goes; a user alone goes when it is a
/// token (Sentry DSNs, whose key is 32 hex; `https://<token>@github.com`).
fn userinfo(b: &[u8], a: usize, at: usize, found: &mut Found) {
    let info = &b[a..at];
    match info.iter().position(|&c| c == b':') {
        Some(c) => found.mask((a + c + 1, at)),
        None => {
            if token_like(info) {
                // A vendor token keeps its prefix, as in rule 6.
                let prefix = SHAPES
                    .iter()
                    .find(|s| info.starts_with(s.prefix.as_bytes()));
                found.mask((a + prefix.map_or(0, |s| s.prefix.len()), at));
            }
        }
    }
}

/// A user name that is a token: long, one run of token characters, letters
/// and digits.
fn token_like(v: &[u8]) -> bool {
    v.len() >= 20
        && v.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        && v.iter().any(u8::is_ascii_digit)
        && v.iter().any(u8::is_ascii_alphabetic)
}

/// URI schemes written `scheme:user@host`, which are no password.
#[rustfmt::skip]
const OPAQUE_SCHEMES: &[&str] = &[
    "mailto", "sip", "sips", "tel", "xmpp", "urn", "news", "data", "git",
];

/// Digest names: `image:tag@sha256:…` is no credential.
#[rustfmt::skip]
const DIGESTS: &[&str] = &["sha1", "sha256", "sha384", "sha512", "md5", "blake2b"];

/// `user:password@host` with no scheme, in any whitespace-separated word:
/// `HTTPS_PROXY=u:p@proxy:3128`, `redis-cli -u u:p@host`.
fn schemeless(b: &[u8], found: &mut Found) {
    let mut i = 0;
    while i < b.len() {
        if is_space(b[i]) {
            i += 1;
            continue;
        }
        let ws = i;
        while i < b.len() && !is_space(b[i]) {
            i += 1;
        }
        let w = &b[ws..i];
        let Some(at) = w.iter().rposition(|&c| c == b'@') else {
            continue;
        };
        let Some(colon) = w[..at].iter().position(|&c| c == b':') else {
            continue;
        };
        if find(w, b"://", 0).is_some() {
            continue;
        }
        let us = w[..colon]
            .iter()
            .rposition(|&c| matches!(c, b'=' | b',' | b';' | b'(' | b'<' | b'"' | b'\''))
            .map_or(0, |k| k + 1);
        let user = &w[us..colon];
        let pass = &w[colon + 1..at];
        let host = &w[at + 1..];
        let host_name = &host[..host
            .iter()
            .position(|&c| matches!(c, b':' | b'/' | b'?'))
            .unwrap_or(host.len())];
        let user_ok = !user.is_empty()
            && user.iter().all(|&c| {
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'%' | b'+' | b'~')
            })
            && !in_list(user, OPAQUE_SCHEMES);
        let pass_ok = !pass.is_empty() && !pass.starts_with(b"@") && !pass.contains(&b'/');
        let host_ok = host
            .first()
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'[')
            && !in_list(host_name, DIGESTS);
        if user_ok && pass_ok && host_ok {
            found.mask((ws + colon + 1, ws + at));
        }
    }
}

// ------------------------------------------------------ rule 6: token shapes

/// Which bytes a token body is made of.
fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}
fn word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}
fn dotted(c: u8) -> bool {
    word_byte(c) || c == b'.'
}
fn hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}
fn upper_digit(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}
fn base64(c: u8) -> bool {
    word_byte(c) || c == b'+' || c == b'/' || c == b'='
}

/// What a token body must mix: random tokens do, the hyphenated words that
/// share a prefix (`sk-learn-…`) usually do not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    Any,
    /// Capitals and small letters.
    Cases,
    /// Capitals, small letters and digits.
    CasesAndDigits,
}

/// A vendor token recognisable on sight: prefix, then `min..=max` body bytes.
struct Shape {
    prefix: &'static str,
    body: fn(u8) -> bool,
    min: usize,
    max: usize,
    mix: Mix,
}

const fn shape(prefix: &'static str, body: fn(u8) -> bool, min: usize) -> Shape {
    Shape {
        prefix,
        body,
        min,
        max: usize::MAX,
        mix: Mix::Any,
    }
}

const fn exact(prefix: &'static str, body: fn(u8) -> bool, len: usize) -> Shape {
    Shape {
        min: len,
        max: len,
        ..shape(prefix, body, len)
    }
}

/// Token prefixes from the vendors' documentation of their formats.
#[rustfmt::skip]
const SHAPES: &[Shape] = &[
    // GitHub
    shape("ghp_", alnum, 20),
    shape("gho_", alnum, 20),
    shape("ghu_", alnum, 20),
    shape("ghs_", alnum, 20),
    shape("ghr_", alnum, 20),
    shape("github_pat_", word_byte, 30),
    // GitLab
    shape("glpat-", word_byte, 20),
    shape("gldt-", word_byte, 20),
    shape("glrt-", word_byte, 20),
    shape("glptt-", word_byte, 20),
    shape("glft-", word_byte, 20),
    shape("glimt-", word_byte, 20),
    shape("glsoat-", word_byte, 20),
    shape("glcbt-", word_byte, 20),
    shape("gloas-", word_byte, 20),
    shape("GR1348941", word_byte, 20),
    // Slack
    shape("xoxb-", word_byte, 10),
    shape("xoxp-", word_byte, 10),
    shape("xoxa-", word_byte, 10),
    shape("xoxr-", word_byte, 10),
    shape("xoxs-", word_byte, 10),
    shape("xoxe-", word_byte, 10),
    shape("xoxe.xoxp-", word_byte, 10),
    shape("xoxe.xoxb-", word_byte, 10),
    shape("xapp-", word_byte, 10),
    // Stripe (publishable `pk_` keys are public)
    shape("sk_live_", alnum, 10),
    shape("sk_test_", alnum, 10),
    shape("rk_live_", alnum, 10),
    shape("rk_test_", alnum, 10),
    shape("whsec_", alnum, 20),
    // SendGrid: `SG.` 22 `.` 43
    exact("SG.", dotted, 66),
    // HashiCorp Vault: service, batch, recovery; before 1.10 `s.` + 24
    shape("hvs.", word_byte, 24),
    shape("hvb.", word_byte, 24),
    shape("hvr.", word_byte, 24),
    Shape { mix: Mix::CasesAndDigits, ..exact("s.", alnum, 24) },
    // Google
    exact("AIza", word_byte, 35),
    shape("ya29.", dotted, 20),
    shape("GOCSPX-", word_byte, 24),
    shape("1//0", word_byte, 30),
    // Docker Hub, DigitalOcean, PyPI, npm, RubyGems
    shape("dckr_pat_", word_byte, 20),
    shape("dckr_oat_", word_byte, 20),
    exact("dop_v1_", hex, 64),
    exact("doo_v1_", hex, 64),
    exact("dor_v1_", hex, 64),
    shape("pypi-", word_byte, 50),
    exact("npm_", alnum, 36),
    exact("rubygems_", hex, 48),
    // AWS access key ids (long-term, temporary, and others): exactly 16 after.
    exact("AKIA", upper_digit, 16),
    exact("ASIA", upper_digit, 16),
    exact("ABIA", upper_digit, 16),
    exact("ACCA", upper_digit, 16),
    // OpenAI, Anthropic, Hugging Face, and other model APIs
    shape("sk-ant-", word_byte, 20),
    shape("sk-proj-", word_byte, 20),
    shape("sk-svcacct-", word_byte, 20),
    shape("sk-admin-", word_byte, 20),
    Shape { mix: Mix::CasesAndDigits, ..shape("sk-", word_byte, 20) },
    Shape { mix: Mix::Cases, ..shape("hf_", alnum, 30) },
    Shape { mix: Mix::Cases, ..shape("api_org_", alnum, 30) },
    shape("gsk_", alnum, 40),
    shape("r8_", alnum, 30),
    shape("pplx-", alnum, 40),
    shape("xai-", alnum, 60),
    shape("lsv2_pt_", word_byte, 30),
    shape("lsv2_sk_", word_byte, 30),
    // Other services
    exact("shpat_", hex, 32),
    exact("shpss_", hex, 32),
    exact("shpca_", hex, 32),
    exact("shppa_", hex, 32),
    shape("lin_api_", alnum, 40),
    shape("PMAK-", word_byte, 50),
    shape("pnu_", alnum, 36),
    shape("glc_", base64, 32),
    shape("glsa_", word_byte, 32),
    shape("sntrys_", base64, 50),
    exact("sntryu_", hex, 64),
    shape("tskey-", word_byte, 20),
    shape("sq0atp-", word_byte, 22),
    shape("sq0csp-", word_byte, 40),
    shape("ntn_", alnum, 40),
    shape("dp.pt.", alnum, 40),
    shape("dp.st.", word_byte, 40),
    shape("dp.sa.", alnum, 40),
    shape("pscale_tkn_", dotted, 32),
    shape("pscale_pw_", dotted, 32),
    shape("pscale_oauth_", dotted, 32),
    shape("AGE-SECRET-KEY-1", alnum, 58),
    shape("sk.eyJ", dotted, 50),
    shape("sha256~", word_byte, 40),
    shape("HRKU-", word_byte, 50),
    shape("ATATT3", base64, 150),
    exact("dapi", hex, 32),
];

/// For each byte, the shapes whose prefix starts with it (bit k for
/// `SHAPES[k]`), so most words are passed over at a glance.
const BY_FIRST_BYTE: [u128; 256] = {
    assert!(SHAPES.len() <= 128);
    let mut table = [0; 256];
    let mut k = 0;
    while k < SHAPES.len() {
        table[SHAPES[k].prefix.as_bytes()[0] as usize] |= 1 << k;
        k += 1;
    }
    table
};

/// Does a token start at `i`: not in the middle of a word (`task-sk-…`)?
fn starts_token(b: &[u8], i: usize) -> bool {
    i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

fn tokens(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut i = 0;
    while i < b.len() {
        // Telegram's URLs run the bot token on: `/bot123456:AA…`.
        let bot = b[..i].ends_with(b"bot") && b[i].is_ascii_digit();
        let scanned = if starts_token(b, i) || bot {
            telegram(b, i, found);
            if b[i..].starts_with(b"eyJ") {
                json_web_token(b, i, found)
            } else {
                vendor(b, i, found)
            }
        } else {
            None
        };
        i = scanned.unwrap_or(i + 1);
    }
}

/// A vendor token at `i`; returns how far it read.
fn vendor(b: &[u8], i: usize, found: &mut Found) -> Option<usize> {
    // A longer prefix (`sk-proj-` over `sk-`) has its own shape.
    let mut candidates = BY_FIRST_BYTE[usize::from(b[i])];
    let mut best: Option<&Shape> = None;
    while candidates != 0 {
        let s = &SHAPES[candidates.trailing_zeros() as usize];
        candidates &= candidates - 1;
        if b[i..].starts_with(s.prefix.as_bytes())
            && best.is_none_or(|b| b.prefix.len() < s.prefix.len())
        {
            best = Some(s);
        }
    }
    let s = best?;
    let body = i + s.prefix.len();
    let len = b[body..].iter().take_while(|&&c| (s.body)(c)).count();
    let end = body + len;
    let token = &b[body..end];
    let has = |f: fn(&u8) -> bool| token.iter().any(f);
    let fits = len >= s.min
        && len <= s.max
        && !(s.max != usize::MAX && b.get(end).is_some_and(|&c| word_byte(c)))
        && match s.mix {
            Mix::Any => true,
            Mix::Cases => has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase),
            Mix::CasesAndDigits => {
                has(u8::is_ascii_uppercase)
                    && has(u8::is_ascii_lowercase)
                    && has(u8::is_ascii_digit)
            }
        };
    if fits {
        found.mask((body, end));
    }
    Some(end)
}

fn b64url_run(b: &[u8], from: usize) -> usize {
    b[from.min(b.len())..]
        .iter()
        .take_while(|&&c| word_byte(c))
        .count()
}

/// `eyJ….eyJ….sig` (the signature may be empty): header and payload are
/// base64url JSON; the whole token goes (its payload names people and
/// systems). Returns how far it read.
fn json_web_token(b: &[u8], i: usize, found: &mut Found) -> Option<usize> {
    let header = i + b64url_run(b, i);
    if b.get(header) != Some(&b'.') || !b[header + 1..].starts_with(b"eyJ") {
        return Some(header);
    }
    let payload = header + 1 + b64url_run(b, header + 1);
    if b.get(payload) != Some(&b'.') {
        return Some(payload);
    }
    let end = payload + 1 + b64url_run(b, payload + 1);
    found.mask((i, end));
    Some(end)
}

/// Telegram bot tokens `123456789:AA…` (35 characters after the colon): the
/// bot id stays.
fn telegram(b: &[u8], i: usize, found: &mut Found) {
    let digits = b[i..]
        .iter()
        .take(13)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let colon = i + digits;
    if (6..=12).contains(&digits) && b.get(colon) == Some(&b':') && b.get(colon + 1) == Some(&b'A')
    {
        let len = b64url_run(b, colon + 1);
        if len == 35 {
            found.mask((colon + 1, colon + 1 + len));
        }
    }
}

// ------------------------------------------------------ rule 7: high entropy

const ENTROPY_MIN: usize = 32;

fn token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'_' | b'/')
}

/// Base64 and hashes that are ordinary data: SSH public key blobs, DER public
/// keys (RSA, EC, Ed25519 SubjectPublicKeyInfo; browser extension keys), a
/// base64 PEM certificate, subresource-integrity hashes.
#[rustfmt::skip]
const ORDINARY_PREFIXES: &[&[u8]] = &[
    b"AAAA",
    b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A",
    b"MIICIjANBgkqhkiG9w0BAQEFAAOCAg8A",
    b"MFkwEwYHKoZIzj0CAQYI",
    b"MHYwEAYHKoZIzj0CAQYF",
    b"MCowBQYDK2Vw",
    b"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS",
    b"sha1-",
    b"sha256-",
    b"sha384-",
    b"sha512-",
];

/// What stands right before a run of ordinary data.
#[rustfmt::skip]
const ORDINARY_AFTER: &[&[u8]] = &[
    b"sha256:", b"sha1:", b"md5:", b"sha512:", b"h1:", b"base64,",
];

fn entropy(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut secret = found.secret.clone();
    let secret = merge(&mut secret);
    let mut public = found.public.clone();
    let public = merge(&mut public);
    let mut i = 0;
    while i < b.len() {
        if !token_byte(b[i]) {
            i += 1;
            continue;
        }
        let s = i;
        let ordinary = ORDINARY_PREFIXES.iter().any(|p| b[s..].starts_with(p))
            || ORDINARY_AFTER
                .iter()
                .any(|p| s >= p.len() && b[s - p.len()..s].eq_ignore_ascii_case(p));
        if ordinary {
            // The whole base64 run, `/` and padding included.
            i += b[i..].iter().take_while(|&&c| base64(c)).count();
            continue;
        }
        // A run starting with `/` is a path: its segments are judged alone.
        let path = b[s] == b'/';
        while i < b.len() && token_byte(b[i]) && !(path && i > s && b[i] == b'/') {
            i += 1;
        }
        let e = i + b[i..].iter().take(2).take_while(|&&c| c == b'=').count();
        if random_looking(&b[s..i]) && !overlaps(&secret, s, e) && !overlaps(&public, s, e) {
            found.mask((s, e));
        }
        i = e;
    }
}

/// Long, mixed letters and digits, not hex, and changing character class
/// often: at least 2 times in 5 (random text does about 6 times in 10,
/// identifiers about 3).
fn random_looking(v: &[u8]) -> bool {
    // Hex, also `0x`-prefixed and mixed-case (EIP-55 addresses), and UUIDs.
    let digits_of = v.strip_prefix(b"0x").unwrap_or(v);
    if v.len() < ENTROPY_MIN
        || digits_of
            .iter()
            .all(|&c| c.is_ascii_hexdigit() || c == b'-')
    {
        return false;
    }
    let class = |c: u8| match c {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    let digits = v.iter().filter(|c| c.is_ascii_digit()).count();
    let changes = v.windows(2).filter(|w| class(w[0]) != class(w[1])).count();
    v.iter().any(u8::is_ascii_uppercase)
        && v.iter().any(u8::is_ascii_lowercase)
        && digits >= 2
        && changes * 5 >= v.len() * 2
}

/// Does `s..e` overlap one of the sorted, merged `ranges`?
fn overlaps(ranges: &[(usize, usize)], s: usize, e: usize) -> bool {
    let k = ranges.partition_point(|r| r.0 < e);
    k > 0 && ranges[k - 1].1 > s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    const SECRETS: &str = include_str!("../tests/redact/secrets.txt");
    const HONEST: &str = include_str!("../tests/redact/honest.txt");

    /// `\n`, `\t`, `\\` as in the corpus headers; anything else is literal.
    fn unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        }
        out
    }

    /// (line number, tab-separated columns) of a corpus's data lines.
    fn data_lines(text: &str) -> Vec<(usize, Vec<&str>)> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|(n, l)| (n + 1, l.split('\t').collect()))
            .collect()
    }

    #[test]
    fn secret_corpus_is_masked_exactly_as_written() {
        let mut failures = Vec::new();
        // category -> (masked, known misses)
        let mut share: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let lines = data_lines(SECRETS);
        for (n, cols) in &lines {
            let [category, input, expected] = cols[..] else {
                failures.push(format!("secrets.txt:{n}: want 3 tab-separated columns"));
                continue;
            };
            let input = unescape(input);
            let got = redact(&input);
            let entry = share.entry(category).or_default();
            if expected.starts_with("MISS") {
                entry.1 += 1;
                if let Some(got) = got {
                    failures.push(format!(
                        "secrets.txt:{n}: a known miss is now caught ({got:?}): update the line"
                    ));
                }
                continue;
            }
            entry.0 += 1;
            let expected = unescape(expected);
            if got.as_deref() != Some(expected.as_str()) {
                failures.push(format!(
                    "secrets.txt:{n}: {input:?}\n   expected {expected:?}\n        got {got:?}"
                ));
            }
        }
        let (masked, missed) = share.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
        let mut report = String::from("masked share by category:\n");
        for (category, (m, x)) in &share {
            report += &format!(
                "  {category:<16} {m:>3}/{:<3} {:.0}%\n",
                m + x,
                100.0 * *m as f64 / (m + x) as f64
            );
        }
        report += &format!(
            "  {:<16} {masked:>3}/{:<3} {:.1}%",
            "all",
            masked + missed,
            100.0 * masked as f64 / (masked + missed) as f64
        );
        println!("{report}");
        assert!(failures.is_empty(), "{}\n{report}", failures.join("\n"));
        assert!(lines.len() >= 150, "the corpus holds {} cases", lines.len());
        assert!(masked * 100 >= (masked + missed) * 95, "{report}");
    }

    #[test]
    fn honest_corpus_is_left_alone() {
        let mut failures = Vec::new();
        let lines = data_lines(HONEST);
        for (n, cols) in &lines {
            let [_category, value] = cols[..] else {
                failures.push(format!("honest.txt:{n}: want 2 tab-separated columns"));
                continue;
            };
            let value = unescape(value);
            if let Some(got) = redact(&value) {
                failures.push(format!("honest.txt:{n}: {value:?}\n   became {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(lines.len() >= 100);
    }

    #[test]
    fn redaction_is_idempotent() {
        for (n, cols) in data_lines(SECRETS) {
            if let Some(once) = redact(&unescape(cols[1])) {
                assert_eq!(redact(&once), None, "secrets.txt:{n}: {once:?}");
            }
        }
    }

    #[test]
    fn masks_never_pile_up() {
        let token = "ZOThDDYlxEVNMPZVhtI0i0GBUTzAFKxuxDTtP5VN";
        for value in [
            format!("[REDACTED]{token}"),
            format!("{token}[REDACTED]"),
            format!("[REDACTED][REDACTED]{token}[REDACTED]"),
        ] {
            assert_eq!(redact(&value).as_deref(), Some(MASK), "{value}");
        }
        assert_eq!(
            redact(&format!("[REDACTED] {token}")).as_deref(),
            Some("[REDACTED] [REDACTED]")
        );
    }

    #[test]
    fn rows_count_changed_values() {
        let mut rows: Vec<Map<String, Value>> = vec![
            json!({"cmdline": "mysql -pabcdef", "name": "mysql", "pid": "1"}),
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

    /// A small deterministic generator, so the test needs no crate.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn random_tokens_are_caught_and_hex_is_not() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut state = 0x9E37_79B9_7F4A_7C15;
        let mut caught = 0;
        for k in 0..1000 {
            let len = 32 + k % 33;
            let token: String = (0..len)
                .map(|_| ALPHABET[(xorshift(&mut state) % ALPHABET.len() as u64) as usize] as char)
                .collect();
            if redact(&format!("x {token} y")).as_deref() == Some("x [REDACTED] y") {
                caught += 1;
            }
            let hex: String = (0..len)
                .map(|_| b"0123456789abcdef"[(xorshift(&mut state) % 16) as usize] as char)
                .collect();
            assert_eq!(redact(&hex), None, "{hex}");
        }
        // About 3% of random 32-character tokens have fewer than two digits.
        assert!(caught >= 950, "{caught} of 1000 random tokens caught");
    }

    #[test]
    fn every_secret_word_holds_a_trigger() {
        let words = [
            SECRET_WORDS,
            SECRET_WHOLE,
            LAST_WORDS,
            LAST_WEAK,
            &["key", "pwd", "code", "session"],
        ];
        for word in words.concat() {
            assert!(
                TRIGGERS.iter().any(|t| word.contains(t)),
                "{word} holds no trigger"
            );
        }
        assert!(contains_ci(b"DB_PASSWORD", b"pass") && !contains_ci(b"KEYBOARD", b"pass"));
    }

    #[test]
    fn the_program_table_names_each_program_once() {
        let index = program_index();
        for pair in index.windows(2) {
            assert_ne!(pair[0].0, pair[1].0, "listed twice");
        }
        assert!(lookup_program(b"/usr/bin/mysql").is_some());
        assert!(lookup_program(b"mysql.exe").is_some());
        assert!(lookup_program(b"mysqlx").is_none());
    }

    fn time(value: &str) -> Duration {
        let start = Instant::now();
        let _ = redact(value);
        start.elapsed()
    }

    #[test]
    fn time_is_linear_in_the_length_of_the_value() {
        // Long runs of one pattern each: what would make a backtracking or
        // re-scanning rule quadratic.
        const PATTERNS: &[&str] = &[
            "a=",
            "a=b",
            "--password ",
            "-p",
            "-pS3cret1 ",
            "://",
            "://a:b/",
            "u:p@",
            "a:b/",
            "-----BEGIN ",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----END ",
            "eyJhbGciOiJIUzI1NiJ9.",
            "sk-",
            "ghp_",
            "Ab1+",
            "'",
            "\"",
            "'a b' ",
            "\\\"",
            "password: ",
            "\"password\":",
            "Cookie: a=b; ",
            "?token=x&",
            "Bearer ",
            "user[password]=",
            "AAAA",
            "s.",
            "1234:",
            "Private-Lines: ",
            "mysql ",
            "htpasswd -b a ",
            "x=\"",
            "PASSWORD={",
            "@",
            "/",
        ];
        let build = |size: usize| {
            let mut v = String::with_capacity(size + 64);
            for p in PATTERNS {
                let end = v.len() + size / PATTERNS.len();
                while v.len() < end {
                    v.push_str(p);
                }
                v.push(' ');
            }
            v
        };
        let small = build(100_000);
        let big = build(1_000_000);
        // The fastest of interleaved runs, so a busy machine (other tests run
        // alongside) slows both sizes alike.
        let (mut t_small, mut t_big) = (Duration::MAX, Duration::MAX);
        for _ in 0..4 {
            t_small = t_small.min(time(&small));
            t_big = t_big.min(time(&big));
        }
        println!("redact: 100 kB in {t_small:?}, 1 MB in {t_big:?}");
        // Ten times the input: linear is 10×, quadratic 100×.
        assert!(
            t_big < t_small * 40 + Duration::from_millis(20),
            "100 kB: {t_small:?}, 1 MB: {t_big:?}"
        );
    }
}
