//! Pure POP3 line handling: splitting a direction into lines and reading commands.

/// Longest line handled whole; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 4096;

/// Lines of up to [`MAX_LINE`] bytes.
pub type Lines = crate::app::lines::Lines<MAX_LINE>;

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
