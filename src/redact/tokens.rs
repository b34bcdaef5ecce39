//! Rule 6: vendor token shapes, Telegram bot tokens and JSON Web Tokens.

use super::*;

/// Which bytes a token body is made of.
pub(super) fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}
pub(super) fn word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}
pub(super) fn dotted(c: u8) -> bool {
    word_byte(c) || c == b'.'
}
pub(super) fn hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}
pub(super) fn upper_digit(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}
pub(super) fn base64(c: u8) -> bool {
    word_byte(c) || c == b'+' || c == b'/' || c == b'='
}

/// What a token body must mix: random tokens do, the hyphenated words that
/// share a prefix (`sk-learn-…`) usually do not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mix {
    Any,
    /// Capitals and small letters.
    Cases,
    /// Capitals, small letters and digits.
    CasesAndDigits,
}

/// A vendor token recognisable on sight: prefix, then `min..=max` body bytes.
pub(super) struct Shape {
    pub(super) prefix: &'static str,
    pub(super) body: fn(u8) -> bool,
    pub(super) min: usize,
    pub(super) max: usize,
    pub(super) mix: Mix,
}

pub(super) const fn shape(prefix: &'static str, body: fn(u8) -> bool, min: usize) -> Shape {
    Shape {
        prefix,
        body,
        min,
        max: usize::MAX,
        mix: Mix::Any,
    }
}

pub(super) const fn exact(prefix: &'static str, body: fn(u8) -> bool, len: usize) -> Shape {
    Shape {
        max: len,
        ..shape(prefix, body, len)
    }
}

/// Token prefixes from the vendors' documentation of their formats.
#[rustfmt::skip]
pub(super) const SHAPES: &[Shape] = &[
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
    Shape { mix: Mix::CasesAndDigits, ..shape("sk-", word_byte, 20) },
    shape("sk-ant-", word_byte, 20),
    shape("sk-proj-", word_byte, 20),
    shape("sk-svcacct-", word_byte, 20),
    shape("sk-admin-", word_byte, 20),
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

/// The fewest bytes any shape takes, prefix and body.
pub(super) const SHORTEST_TOKEN: usize = {
    let mut shortest = usize::MAX;
    let mut k = 0;
    while k < SHAPES.len() {
        let len = SHAPES[k].prefix.len() + SHAPES[k].min;
        if len < shortest {
            shortest = len;
        }
        k += 1;
    }
    assert!(shortest <= super::entropy::ENTROPY_MIN);
    shortest
};

/// For each byte, the shapes whose prefix starts with it (bit k for
/// `SHAPES[k]`), so most words are passed over at a glance.
pub(super) const BY_FIRST_BYTE: [u128; 256] = {
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
pub(super) fn starts_token(b: &[u8], i: usize) -> bool {
    i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

pub(super) fn tokens(t: &Text, found: &mut Found) {
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
pub(super) fn vendor(b: &[u8], i: usize, found: &mut Found) -> Option<usize> {
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

pub(super) fn b64url_run(b: &[u8], from: usize) -> usize {
    b[from.min(b.len())..]
        .iter()
        .take_while(|&&c| word_byte(c))
        .count()
}

/// `eyJ….eyJ….sig` (the signature may be empty): header and payload are
/// base64url JSON; the whole token goes (its payload names people and
/// systems). Returns how far it read.
pub(super) fn json_web_token(b: &[u8], i: usize, found: &mut Found) -> Option<usize> {
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
pub(super) fn telegram(b: &[u8], i: usize, found: &mut Found) {
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
