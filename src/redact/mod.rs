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

mod armour;
mod command_line;
mod entropy;
mod names;
mod pairs;
mod programs;
mod tokens;
mod urls;

use armour::*;
use command_line::*;
use entropy::*;
use names::*;
use pairs::*;
use programs::*;
use tokens::*;
use urls::*;

/// What a masked secret becomes.
pub const MASK: &str = "[REDACTED]";

/// Returns the value with every recognised secret masked, or `None` when
/// nothing needed masking (so callers can count changes cheaply).
pub fn redact(value: &str) -> Option<String> {
    if plainly_harmless(value.as_bytes()) {
        return None;
    }
    // Rules delimit a secret differently (a word ends at whitespace, a quoted
    // value at its quote), so a pass can leave a tail another pass would mask.
    // Repeating to a fixed point makes redaction idempotent: a masked value
    // never changes again. Real values settle in one or two passes; the bound
    // keeps pathological input linear.
    let mut current = redact_once(value)?;
    for _ in 0..MAX_PASSES {
        match redact_once(&current) {
            Some(next) => current = next,
            None => return Some(current),
        }
    }
    // Still changing: each mask re-paired the quotes after it, so the next
    // pass found one more value (only built inputs do this; the fuzzer found
    // one). Masked whole, the value is final.
    Some(MASK.to_string())
}

const MAX_PASSES: usize = 8;

/// Most cells are numbers, names and short paths, and no rule can find
/// anything in them: every rule needs a separator (`=`, `:`, `@`), a space,
/// a quote, a leading `-`, `eyJ`, or more bytes than the shortest token
/// shape. Saying so up front keeps a table of them cheap (a cell costs tens
/// of nanoseconds, not hundreds); `fast_path_agrees_with_the_rules` checks
/// that the rules agree.
fn plainly_harmless(b: &[u8]) -> bool {
    let number = |c: &u8| c.is_ascii_digit() || *c == b'.';
    let plain = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/');
    b.iter().all(number)
        || (b.len() < SHORTEST_TOKEN && b.iter().all(plain) && find(b, b"eyJ", 0).is_none())
}

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

/// The words of `b` between whitespace, as byte ranges; quotes are ordinary
/// characters here (`command_line` reads words as a shell does).
fn bare_words(b: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        i += b[i..].iter().take_while(|&&c| is_space(c)).count();
        let s = i;
        i += b[i..].iter().take_while(|&&c| !is_space(c)).count();
        (i > s).then_some((s, i))
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    const SECRETS: &str = include_str!("../../tests/redact/secrets.txt");
    const HONEST: &str = include_str!("../../tests/redact/honest.txt");

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

    /// Every value the fast path passes over, the rules pass over too:
    /// short plain words (vendor prefixes, program names and random ones,
    /// cut to each length below the limit) and numbers of any length.
    #[test]
    fn fast_path_agrees_with_the_rules() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const PLAIN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/";
        let mut starts: Vec<Vec<u8>> = SHAPES
            .iter()
            .map(|s| s.prefix.as_bytes().to_vec())
            .collect();
        starts.extend(
            PROGRAMS
                .iter()
                .flat_map(|p| p.names.iter().map(|n| n.as_bytes().to_vec())),
        );
        starts.extend([b"".to_vec(), b"/".to_vec(), b"bot".to_vec(), b"0x".to_vec()]);
        let mut checked = 0;
        for start in &starts {
            for _ in 0..200 {
                let mut v = start.clone();
                while v.len() < SHORTEST_TOKEN + 2 {
                    v.push(PLAIN[next() as usize % PLAIN.len()]);
                }
                for len in 0..=v.len() {
                    let s = std::str::from_utf8(&v[..len]).unwrap_or_default();
                    if plainly_harmless(s.as_bytes()) {
                        assert_eq!(redact_once(s), None, "{s:?}");
                        checked += 1;
                    }
                }
            }
        }
        for len in [1, 5, 20, 40, 80] {
            let v: String = (0..len)
                .map(|k| {
                    if k % 7 == 3 {
                        '.'
                    } else {
                        char::from(b'0' + (next() % 10) as u8)
                    }
                })
                .collect();
            assert!(plainly_harmless(v.as_bytes()));
            assert_eq!(redact_once(&v), None, "{v:?}");
        }
        assert!(checked > 100_000, "{checked}");
        for kept in [
            "-1",
            "a:b",
            "a=b",
            "a b",
            "eyJa.eyJb.c",
            "xoxb-1234567890",
            "'x'",
            "0123456789abcdX",
        ] {
            assert!(!plainly_harmless(kept.as_bytes()), "{kept:?}");
        }
    }

    #[test]
    fn a_value_that_never_settles_is_masked_whole() {
        let v = "-psk-\t''\0\t':\t'_\t'_\t'\0\t'_\t'_\t'\0\t'_\t'";
        assert_eq!(redact(v).as_deref(), Some(MASK));
        assert_eq!(redact(MASK), None);
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
