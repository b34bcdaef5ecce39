//! Rule 3: `NAME=value` and `name: value` pairs whose name is secret, headers and cookies.

use super::*;

pub(super) fn pairs(t: &Text, found: &mut Found) {
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
pub(super) fn assignment(t: &Text, eq: usize, found: &mut Found) -> Option<usize> {
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
pub(super) fn name_start(b: &[u8], end: usize) -> Option<usize> {
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
pub(super) fn value_at(
    t: &Text,
    pos: usize,
    place: Place,
    enclosing: Option<u8>,
) -> (usize, usize) {
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
pub(super) fn starts_pair(b: &[u8], i: usize) -> bool {
    let i = skip_blanks(b, i);
    let len = b[i..].iter().take_while(|&&c| is_name_byte(c)).count();
    len > 0 && b.get(i + len) == Some(&b'=')
}

/// `name: value`, `"name" : "value"`, `\"name\":\"value\"`; returns where the
/// value ended.
pub(super) fn field(t: &Text, colon: usize, found: &mut Found) -> Option<usize> {
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
pub(super) fn at_line_start(b: &[u8], i: usize) -> bool {
    let lead = b[..i]
        .iter()
        .rev()
        .take_while(|&&c| c == b' ' || c == b'\t' || c == b'-')
        .count();
    i == lead || b[i - lead - 1] == b'\n'
}

pub(super) fn is_authorization(name: &[u8]) -> bool {
    ends_with_ci(name, b"authorization")
}

/// Scheme words an `Authorization` value starts with; alone they are no secret.
#[rustfmt::skip]
pub(super) const SCHEMES: &[&str] = &[
    "basic", "bearer", "digest", "negotiate", "ntlm", "token", "apikey", "key", "ssws", "dpop",
    "jwt", "hoba", "mutual", "oauth",
];

/// An `Authorization` value: with a scheme word (`Bearer`, `Basic`,
/// `token`, `AWS4-HMAC-SHA256`…) only what follows it goes.
pub(super) fn credentials(b: &[u8], s: usize, e: usize, found: &mut Found) {
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
pub(super) fn cookie_list(
    t: &Text,
    from: usize,
    limit: usize,
    first_only: bool,
    found: &mut Found,
) -> usize {
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
            // A cookie with no value (`flag;`, or none at all: `;;`): the
            // list goes on.
            Some(b';') => {
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
pub(super) fn bearer(t: &Text, found: &mut Found) {
    let b = t.b;
    let mut after_bearer = false;
    for (s, e) in bare_words(b) {
        let word = &b[s..e];
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
