//! Pure IMAP line handling: splitting a direction into lines, tagged commands, LOGIN.

/// Longest line handled whole; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 8192;
/// Longest tag accepted.
pub const MAX_TAG: usize = 32;

/// Lines of up to [`MAX_LINE`] bytes.
pub type Lines = crate::app::lines::Lines<MAX_LINE>;

/// IMAP4rev1/rev2 commands (and common extensions).
pub const COMMANDS: &[&[u8]] = &[
    b"CAPABILITY",
    b"NOOP",
    b"LOGOUT",
    b"STARTTLS",
    b"AUTHENTICATE",
    b"LOGIN",
    b"SELECT",
    b"EXAMINE",
    b"CREATE",
    b"DELETE",
    b"RENAME",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"LIST",
    b"LSUB",
    b"STATUS",
    b"APPEND",
    b"CHECK",
    b"CLOSE",
    b"EXPUNGE",
    b"SEARCH",
    b"FETCH",
    b"STORE",
    b"COPY",
    b"MOVE",
    b"UID",
    b"ID",
    b"ENABLE",
    b"IDLE",
    b"NAMESPACE",
    b"GETQUOTAROOT",
    b"UNSELECT",
    b"XLIST",
    b"COMPRESS",
];

/// A tag as clients write them: 1..=[`MAX_TAG`] letters, digits, `.`, `-`, `_` (the
/// grammar allows more punctuation, but other line protocols start lines with it).
pub fn is_tag(t: &[u8]) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TAG
        && t.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// `tag word rest`: the tag, the word (command or status) and what follows.
pub fn tagged(l: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut it = l.splitn(3, |&c| c == b' ');
    let tag = it.next()?;
    let word = it.next()?;
    (is_tag(tag) && !word.is_empty()).then_some((tag, word, it.next().unwrap_or(&[])))
}

/// A known command word.
pub fn is_command(w: &[u8]) -> bool {
    COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(w))
}

/// The first argument, unquoted (`"bob"` -> `bob`, `bob pass` -> `bob`).
pub fn first_astring(a: &[u8]) -> &[u8] {
    if let Some(q) = a.strip_prefix(b"\"") {
        let end = q.iter().position(|&c| c == b'"').unwrap_or(q.len());
        return q.get(..end).unwrap_or(q);
    }
    a.split(|&c| c == b' ').next().unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_args() {
        assert_eq!(tagged(b"a001 LOGIN bob pw"), Some((&b"a001"[..], &b"LOGIN"[..], &b"bob pw"[..])));
        assert_eq!(tagged(b"+ go ahead").map(|t| t.0), None);
        assert!(is_command(b"capability"));
        assert_eq!(first_astring(b"\"bob smith\" pw"), b"bob smith");
        assert_eq!(first_astring(b"bob pw"), b"bob");
    }
}
