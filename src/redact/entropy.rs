//! Rule 7: long random-looking runs that no other rule named.

use super::*;

pub(super) const ENTROPY_MIN: usize = 32;

pub(super) fn token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'_' | b'/')
}

/// Base64 and hashes that are ordinary data: SSH public key blobs, DER public
/// keys (RSA, EC, Ed25519 SubjectPublicKeyInfo; browser extension keys), a
/// base64 PEM certificate, subresource-integrity hashes.
#[rustfmt::skip]
pub(super) const ORDINARY_PREFIXES: &[&[u8]] = &[
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
pub(super) const ORDINARY_AFTER: &[&[u8]] = &[
    b"sha256:", b"sha1:", b"md5:", b"sha512:", b"h1:", b"base64,",
];

pub(super) fn entropy(t: &Text, found: &mut Found) {
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
pub(super) fn random_looking(v: &[u8]) -> bool {
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
pub(super) fn overlaps(ranges: &[(usize, usize)], s: usize, e: usize) -> bool {
    let k = ranges.partition_point(|r| r.0 < e);
    k > 0 && ranges[k - 1].1 > s
}
