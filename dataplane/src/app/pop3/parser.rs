//! Pure POP3 line handling: splitting a direction into lines and reading commands.

/// Longest line handled whole; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 4096;

/// Splits a direction into lines across chunks, skipping the tail of over-long lines.
#[derive(Debug, Default)]
pub struct Lines {
    skipping: bool,
}

impl Lines {
    /// Calls `f` on each whole line of `b` (without CR LF) while it returns true; returns
    /// the bytes consumed.
    pub fn feed(&mut self, b: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> usize {
        let mut off = 0;
        while let Some(rest) = b.get(off..) {
            let Some(end) = rest.iter().position(|&c| c == b'\n') else {
                if rest.len() > MAX_LINE {
                    self.skipping = true;
                    return b.len();
                }
                break;
            };
            let line = rest.get(..end).unwrap_or(&[]);
            off += end + 1;
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if !f(line.strip_suffix(b"\r").unwrap_or(line)) {
                break;
            }
        }
        off
    }
}

/// A command line: its verb and its arguments (after the first space).
pub fn command(l: &[u8]) -> (&[u8], &[u8]) {
    match l.iter().position(|&c| c == b' ') {
        Some(i) => (l.get(..i).unwrap_or(&[]), l.get(i + 1..).unwrap_or(&[])),
        None => (l, &[]),
    }
}

/// Every POP3 command (RFC 1939, 2449, 2595, 5034).
pub const COMMANDS: &[&[u8]] = &[
    b"USER", b"PASS", b"APOP", b"AUTH", b"CAPA", b"STAT", b"LIST", b"RETR", b"DELE", b"NOOP", b"RSET", b"QUIT", b"TOP",
    b"UIDL", b"STLS", b"UTF8", b"LANG",
];

/// A client line that only POP3 sends (FTP also has USER, PASS, LIST, RETR name, ...).
pub fn pop3_only(l: &[u8]) -> bool {
    let (verb, arg) = command(l);
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let mut args = arg.split(|&c| c == b' ');
    // Verbs are at most 4 letters: upper-case them without allocating.
    let mut up = [0u8; 4];
    let Some(up) = up.get_mut(..verb.len()) else { return false };
    up.copy_from_slice(verb);
    up.make_ascii_uppercase();
    match &*up {
        b"CAPA" | b"STLS" => arg.is_empty(),
        b"UIDL" => arg.is_empty() || digits(arg),
        b"RETR" => digits(arg),
        b"TOP" => args.next().is_some_and(digits) && args.next().is_some_and(digits) && args.next().is_none(),
        b"APOP" => {
            args.next().is_some() && args.next().is_some_and(|d| d.len() == 32 && d.iter().all(u8::is_ascii_hexdigit))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert!(pop3_only(b"CAPA"));
        assert!(pop3_only(b"top 1 10"));
        assert!(pop3_only(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb"));
        assert!(!pop3_only(b"RETR file.txt"));
        assert!(!pop3_only(b"USER bob"));
        assert_eq!(command(b"USER bob"), (&b"USER"[..], &b"bob"[..]));
    }
}
