//! Rule 2: which names (environment variables, options, keys, headers) name a secret.

use super::*;

/// Where a name stands: a few words are secret only in some places.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
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
pub(super) enum Strength {
    Strong,
    Weak,
}

/// Words that make a name secret wherever they stand, also at the end of a
/// run-together word (`PGPASSWORD`, `clientsecret`, `csrftoken`).
#[rustfmt::skip]
pub(super) const SECRET_WORDS: &[&str] = &[
    "password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "secretkey",
    "privatekey", "signature", "sessionid", "sessid", "authorization",
];

/// Whole words that are secret wherever they stand, never as an ending
/// (`keypass`, but not `bypass`).
#[rustfmt::skip]
pub(super) const SECRET_WHOLE: &[&str] = &[
    "psk", "requirepass", "masterauth", "storepass", "keypass", "srcstorepass", "deststorepass",
    "srckeypass", "destkeypass", "setcookie",
];

/// Words that are secret only as the last word of a name: `DB_PASS`,
/// `--pw`, `AUTH`, `?sig=`, `GITHUB_PAT`, but not `PASS_MAX_DAYS`,
/// `AUTH_METHOD`, `PATH`.
#[rustfmt::skip]
pub(super) const LAST_WORDS: &[&str] = &[
    "pass", "pw", "auth", "sig", "pat", "cookie", "bearer", "jwt", "otp",
];

/// More last words, for credentials in general.
#[rustfmt::skip]
pub(super) const LAST_WEAK: &[&str] = &["creds", "credential", "credentials"];

/// Words that, after a secret word, make the name describe the secret rather
/// than hold it: `password_file`, `TOKEN_TTL`, `PASSWORD_MIN_LENGTH`,
/// `--secret-name`, `AWS_ACCESS_KEY_ID`, `--password-stdin`.
#[rustfmt::skip]
pub(super) const DESCRIBING: &[&str] = &[
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
pub(super) const NEGATING: &[&str] = &[
    "no", "ask", "skip", "without", "prompt", "show", "hide", "read",
];

/// Qualifiers of `key` that name something public or structural.
#[rustfmt::skip]
pub(super) const PUBLIC_KEYS: &[&str] = &[
    "public", "pub", "host", "sort", "primary", "foreign", "partition", "range", "hash", "routing",
    "cache", "hot", "ssh", "gpg", "pgp", "tls", "ssl", "x509", "signing", "kms", "idempotency",
    "dedup", "object", "row", "column", "lookup", "group", "map", "shortcut",
];

/// Every secret word above holds one of these: a name holding none is
/// passed over at a glance (a unit test keeps the lists in step).
#[rustfmt::skip]
pub(super) const TRIGGERS: &[&str] = &[
    "pass", "pw", "secret", "token", "key", "sig", "sess", "auth", "psk", "pat", "cookie",
    "bearer", "jwt", "otp", "cred", "code",
];

pub(super) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Full names that look secret and are not.
#[rustfmt::skip]
pub(super) const NOT_SECRET: &[&str] = &["xdg_session_id", "x-amz-credential"];

/// Bytes of a name; brackets for form fields (`user[password]=`).
pub(super) fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']')
}

pub(super) fn eq_word(part: &[u8], word: &str) -> bool {
    part.eq_ignore_ascii_case(word.as_bytes())
}

pub(super) fn in_list(part: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| eq_word(part, w))
}

/// Does `a` followed by `b` spell a secret word (`pass`+`word`, `api`+`key`)?
pub(super) fn joins_secret(a: &[u8], b: &[u8]) -> bool {
    SECRET_WORDS.iter().any(|w| {
        let w = w.as_bytes();
        w.len() == a.len() + b.len()
            && w[..a.len()].eq_ignore_ascii_case(a)
            && w[a.len()..].eq_ignore_ascii_case(b)
    })
}

/// Splits a name into words at separators and camelCase humps.
pub(super) fn split_name(name: &[u8]) -> Vec<&[u8]> {
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
pub(super) fn hump(w: &[u8], i: usize) -> bool {
    let prev = w[i - 1];
    w[i].is_ascii_uppercase()
        && (prev.is_ascii_lowercase()
            || prev.is_ascii_digit()
            || (prev.is_ascii_uppercase() && w.get(i + 1).is_some_and(u8::is_ascii_lowercase)))
}

/// Is `name` the name of a secret where it stands? See rule 2 at the top.
pub(super) fn secret_name(name: &[u8], place: Place) -> Option<Strength> {
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
pub(super) fn last_word(parts: &[&[u8]], place: Place) -> Option<Strength> {
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
pub(super) const SWITCHES: &[&str] = &["true", "false", "yes", "no", "on", "off", "none", "null"];

/// A value that only points at a secret, or is a switch: `$VAR`, `${VAR}`,
/// `env:NAME`, `file:/path`, `fd:3`, `stdin`, `-`, `true`.
pub(super) fn is_reference(v: &[u8]) -> bool {
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
pub(super) fn is_path(v: &[u8]) -> bool {
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
pub(super) fn worth_masking(v: &[u8], strength: Strength) -> bool {
    !(v.is_empty() || is_reference(v) || (strength == Strength::Weak && is_path(v)))
}
