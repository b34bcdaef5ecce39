//! Rule 4: command lines read like a shell would, options and positional passwords.

use super::*;

/// What is known about the command being read.
#[derive(Default)]
pub(super) struct Command {
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

pub(super) fn command_line(t: &Text, from: usize, to: usize, found: &mut Found) {
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
pub(super) type Words = Vec<(usize, usize)>;

pub(super) fn shell_words(t: &Text, from: usize, to: usize) -> (Words, Words) {
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
pub(super) fn core(t: &Text, ws: usize, we: usize) -> (usize, usize) {
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
pub(super) fn value_word(t: &Text, next: Option<(usize, usize)>) -> Option<(usize, usize)> {
    let (ns, ne) = next?;
    let (vs, ve) = core(t, ns, ne);
    let v = &t.b[vs..ve];
    let quoted = vs > ns;
    (!v.is_empty()
        && (quoted || !(v.starts_with(b"-") || matches!(v, b"|" | b"||" | b"&&" | b";"))))
    .then_some((vs, ve))
}

/// Reads one word; returns how many following words it used as its value.
pub(super) fn word(
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
pub(super) fn program_flag(
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

pub(super) fn apply_kind(t: &Text, kind: Kind, (vs, ve): (usize, usize), found: &mut Found) {
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
pub(super) fn option(
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
pub(super) fn looks_like_password(v: &[u8]) -> bool {
    let letters = v.iter().any(u8::is_ascii_alphabetic);
    v.len() >= 6
        && ((letters && v.iter().any(u8::is_ascii_digit)) || v[0].is_ascii_uppercase())
        && !v
            .iter()
            .any(|c| matches!(c, b'/' | b'=' | b'.' | b',' | b':'))
}

/// A word that is not an option: a program, a subcommand or an operand.
pub(super) fn operand(
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
pub(super) fn logon(b: &[u8], s: usize, e: usize, found: &mut Found) {
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
