//! Pure SMTP line handling: splitting a direction into lines, reply codes, commands.

/// Longest line handled whole; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 4096;

/// Lines of up to [`MAX_LINE`] bytes.
pub type Lines = crate::app::lines::Lines<MAX_LINE>;

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
