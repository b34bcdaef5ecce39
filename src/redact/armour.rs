//! Rule 1: the bodies of private keys (PEM/OpenSSH/PGP armour and PuTTY files).

use super::*;

/// Armour labels whose body is a private key.
#[rustfmt::skip]
pub(super) const PRIVATE_ARMOUR: &[&[u8]] = &[b"PRIVATE KEY", b"PRIVATE KEY BLOCK", b"SECRET KEY BLOCK"];

pub(super) fn armour(t: &Text, found: &mut Found) {
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
pub(super) fn armour_end(b: &[u8], from: usize) -> Option<usize> {
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
pub(super) fn dashes_before(b: &[u8], at: usize) -> Option<usize> {
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
pub(super) fn putty(b: &[u8], found: &mut Found) {
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
