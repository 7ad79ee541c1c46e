//! Pure SMTP line handling: splitting a direction into lines, reply codes, commands.

/// Longest line handled whole; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 4096;

/// Splits a direction into lines across chunks, skipping the tail of over-long lines.
#[derive(Debug, Default)]
pub struct Lines {
    /// Inside an over-long line: drop bytes up to its end.
    skipping: bool,
}

impl Lines {
    /// Calls `f` on each whole line of `b` (without its CR LF) while it returns true;
    /// returns the bytes consumed (a partial line at the end is left for the next call,
    /// unless it is already longer than [`MAX_LINE`]).
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

/// A reply line: its 3-digit code, whether more lines follow (`250-`), and its text.
pub fn reply(l: &[u8]) -> Option<(u16, bool, &[u8])> {
    let code = l.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let more = match l.get(3) {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return None,
    };
    let n = code.iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0'));
    Some((n, more, l.get(4..).unwrap_or(&[])))
}

/// A command line: its verb (case kept) and its argument (after one space).
pub fn command(l: &[u8]) -> (&[u8], &[u8]) {
    match l.iter().position(|&c| c == b' ') {
        Some(i) => (l.get(..i).unwrap_or(&[]), l.get(i + 1..).unwrap_or(&[])),
        None => (l, &[]),
    }
}

/// The value of `MAIL FROM:` / `RCPT TO:` as Suricata logs it: after the colon and any
/// spaces, up to the next space (ESMTP parameters such as `SIZE=` are left out).
pub fn path_param(arg: &[u8]) -> &[u8] {
    let colon = arg.iter().position(|&c| c == b':').map_or(arg.len(), |i| i + 1);
    let rest = arg.get(colon..).unwrap_or(&[]);
    let start = rest.iter().position(|&c| c != b' ').unwrap_or(rest.len());
    let rest = rest.get(start..).unwrap_or(&[]);
    let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
    rest.get(..end).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_replies_params() {
        let mut got = Vec::new();
        let mut l = Lines::default();
        assert_eq!(
            l.feed(b"a\r\nbc\nd", |x| {
                got.push(x.to_vec());
                true
            }),
            6
        );
        assert_eq!(got, [b"a".to_vec(), b"bc".to_vec()]);
        assert_eq!(reply(b"250-PIPELINING"), Some((250, true, &b"PIPELINING"[..])));
        assert_eq!(reply(b"220 mx ESMTP"), Some((220, false, &b"mx ESMTP"[..])));
        assert_eq!(reply(b"22x"), None);
        assert_eq!(path_param(b"FROM:<a@b.c> SIZE=12"), b"<a@b.c>");
        assert_eq!(path_param(b"TO: <x@y>"), b"<x@y>");
        assert_eq!(command(b"EHLO client.example"), (&b"EHLO"[..], &b"client.example"[..]));
    }
}
