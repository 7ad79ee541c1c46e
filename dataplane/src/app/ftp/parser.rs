//! Pure FTP line handling: lines, replies, commands and the ports of PASV/EPSV/PORT/EPRT.

/// Longest line handled whole; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 4096;

/// Lines of up to [`MAX_LINE`] bytes.
pub type Lines = crate::app::lines::Lines<MAX_LINE>;

/// A reply line: its code (3 digits as written), whether more lines follow, its text.
pub fn reply(l: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    let code = l.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || code.first().is_some_and(|c| !(b'1'..=b'6').contains(c)) {
        return None;
    }
    let more = match l.get(3) {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return None,
    };
    Some((code, more, l.get(4..).unwrap_or(&[])))
}

/// A command line: its verb and its argument (after the first space).
pub fn command(l: &[u8]) -> (&[u8], &[u8]) {
    match l.iter().position(|&c| c == b' ') {
        Some(i) => (l.get(..i).unwrap_or(&[]), l.get(i + 1..).unwrap_or(&[])),
        None => (l, &[]),
    }
}

/// Up to `N` unsigned decimals separated by `sep`, all of them (no other bytes).
fn numbers<const N: usize>(s: &[u8], sep: u8) -> Option<[u32; N]> {
    let mut out = [0u32; N];
    let mut parts = s.split(|&c| c == sep);
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *slot = p.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    }
    parts.next().is_none().then_some(out)
}

/// The port of `h1,h2,h3,h4,p1,p2` (PORT's argument, inside PASV's 227 reply).
pub fn port_of_hostport(s: &[u8]) -> Option<u16> {
    let [h1, h2, h3, h4, p1, p2] = numbers::<6>(s.trim_ascii(), b',')?;
    if [h1, h2, h3, h4, p1, p2].iter().any(|&n| n > 255) {
        return None;
    }
    Some((p1 * 256 + p2) as u16)
}

/// The port of a 227 reply: `Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (some servers
/// leave the parentheses out).
pub fn pasv_port(text: &[u8]) -> Option<u16> {
    let inner = match text.iter().position(|&c| c == b'(') {
        Some(o) => text.get(o + 1..)?.split(|&c| c == b')').next()?,
        None => {
            let start = text.iter().position(u8::is_ascii_digit)?;
            let t = text.get(start..)?.split(|&c| c == b' ').next()?;
            t.strip_suffix(b".").unwrap_or(t)
        }
    };
    port_of_hostport(inner)
}

/// The port of `|af|addr|port|` (EPRT's argument, inside EPSV's 229 reply `(|||port|)`).
pub fn extended_port(s: &[u8]) -> Option<u16> {
    let open = s.iter().position(|&c| c == b'(').map_or(0, |o| o + 1);
    let s = s.get(open..)?;
    let d = *s.first()?;
    let mut parts = s.split(|&c| c == d);
    let _ = parts.next()?;
    let _af = parts.next()?;
    let _addr = parts.next()?;
    let port = parts.next()?;
    let [p] = numbers::<1>(port, b'|')?;
    u16::try_from(p).ok().filter(|&p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_ports() {
        assert_eq!(reply(b"230-Welcome"), Some((&b"230"[..], true, &b"Welcome"[..])));
        assert_eq!(reply(b"999 x"), None);
        assert_eq!(pasv_port(b"Entering Passive Mode (192,168,1,2,19,137)."), Some(19 * 256 + 137));
        assert_eq!(pasv_port(b"Entering Passive Mode 192,168,1,2,19,137"), Some(19 * 256 + 137));
        assert_eq!(port_of_hostport(b"10,0,0,1,4,1"), Some(1025));
        assert_eq!(port_of_hostport(b"10,0,0,1,4"), None);
        assert_eq!(extended_port(b"Entering Extended Passive Mode (|||6446|)"), Some(6446));
        assert_eq!(extended_port(b"|2|::1|5282|"), Some(5282));
        assert_eq!(command(b"RETR a b"), (&b"RETR"[..], &b"a b"[..]));
    }
}
