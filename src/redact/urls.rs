//! Rule 5: passwords in URLs, scheme-less `user:pass@host` and webhook paths.

use super::*;

/// Ends a URL: whitespace, quotes, angle brackets.
pub(super) fn ends_url(c: u8) -> bool {
    is_space(c) || is_quote(c) || c == b'<' || c == b'>'
}

/// Webhook hosts (or host endings) whose path after the prefix is the secret.
#[rustfmt::skip]
pub(super) const WEBHOOKS: &[(&[u8], &[u8])] = &[
    (b"hooks.slack.com", b"/services/"),
    (b"hooks.slack.com", b"/workflows/"),
    (b"hooks.slack.com", b"/triggers/"),
    (b"discord.com", b"/api/webhooks/"),
    (b"discordapp.com", b"/api/webhooks/"),
    (b".webhook.office.com", b"/webhookb2/"),
];

pub(super) fn urls(t: &Text, found: &mut Found) {
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
pub(super) fn userinfo(b: &[u8], a: usize, at: usize, found: &mut Found) {
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
pub(super) fn token_like(v: &[u8]) -> bool {
    v.len() >= 20
        && v.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        && v.iter().any(u8::is_ascii_digit)
        && v.iter().any(u8::is_ascii_alphabetic)
}

/// URI schemes written `scheme:user@host`, which are no password.
#[rustfmt::skip]
pub(super) const OPAQUE_SCHEMES: &[&str] = &[
    "mailto", "sip", "sips", "tel", "xmpp", "urn", "news", "data", "git",
];

/// Digest names: `image:tag@sha256:…` is no credential.
#[rustfmt::skip]
pub(super) const DIGESTS: &[&str] = &["sha1", "sha256", "sha384", "sha512", "md5", "blake2b"];

/// `user:password@host` with no scheme, in any whitespace-separated word:
/// `HTTPS_PROXY=u:p@proxy:3128`, `redis-cli -u u:p@host`.
pub(super) fn schemeless(b: &[u8], found: &mut Found) {
    for (ws, we) in bare_words(b) {
        let w = &b[ws..we];
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
        // A password holding `/` is a path (`host:/srv@x`); an empty one
        // masks nothing, as `apply` drops empty ranges.
        let pass_ok = !w[colon..at].contains(&b'/');
        let host_ok = host
            .first()
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'[')
            && !in_list(host_name, DIGESTS);
        if user_ok && pass_ok && host_ok {
            found.mask((ws + colon + 1, ws + at));
        }
    }
}
