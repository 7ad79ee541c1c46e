//! Pure parsing of HTTP/1.x-style text messages: start lines, header blocks, body framing.
//!
//! RTSP and SIP share the syntax (a request line `METHOD target VERSION` or a status line
//! `VERSION NNN reason`, then `Name: value` lines up to an empty line); a [`Dialect`] names a
//! family's methods and version string, so the three probes and parsers use one scanner.
//! Every function works on a possibly incomplete buffer and answers [`Error::Incomplete`]
//! when more bytes could still make it valid. Loops are bounded by the input length and by
//! the named limits below.
use crate::app::bytes::prefix_state;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not a message of this dialect.
    Invalid,
}

/// Largest header block (start line included) kept to parse a message.
pub const MAX_HEAD: usize = 8 * 1024;
/// Header lines looked at per message.
pub const MAX_HEADERS: usize = 128;
/// Longest method token.
pub const MAX_METHOD: usize = 20;
/// Longest chunk-size line (with extensions).
pub const MAX_CHUNK_LINE: usize = 1024;
/// A request target this long without its end yet is accepted by the probe (long URLs).
pub const LONG_TARGET: usize = 1024;

/// One family of HTTP-like start lines.
#[derive(Debug)]
pub struct Dialect {
    pub methods: &'static [&'static [u8]],
    /// The version's fixed prefix, e.g. `HTTP/1.`.
    pub version: &'static [u8],
    /// What follows the prefix: `#` is one digit, other bytes are literal (`#` for
    /// `HTTP/1.x`, `#.#` for `RTSP/x.y`, empty for `SIP/2.0`).
    pub version_tail: &'static [u8],
}

/// HTTP/1.x, with the WebDAV and other registered methods seen in the wild.
pub const HTTP: Dialect = Dialect {
    methods: &[
        b"GET",
        b"POST",
        b"HEAD",
        b"PUT",
        b"DELETE",
        b"OPTIONS",
        b"PATCH",
        b"CONNECT",
        b"TRACE",
        b"PROPFIND",
        b"PROPPATCH",
        b"MKCOL",
        b"COPY",
        b"MOVE",
        b"LOCK",
        b"UNLOCK",
        b"SEARCH",
        b"REPORT",
        b"MKACTIVITY",
        b"CHECKOUT",
        b"MERGE",
        b"MKCALENDAR",
        b"ACL",
        b"BIND",
        b"UNBIND",
        b"REBIND",
        b"LINK",
        b"UNLINK",
        b"PURGE",
        b"VERSION-CONTROL",
        b"BASELINE-CONTROL",
        b"NOTIFY",
        b"SUBSCRIBE",
        b"UNSUBSCRIBE",
        b"M-SEARCH",
        b"SOURCE",
    ],
    version: b"HTTP/1.",
    version_tail: b"#",
};

/// A parsed start line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start<'a> {
    Request { method: &'a [u8], target: &'a [u8], version: &'a [u8] },
    Response { version: &'a [u8], status: u16 },
}

/// Scans the start line at the beginning of `b` (a request or a status line of dialect `d`)
/// up to the end of the version (request) or of the status code (response).
pub fn start<'a>(b: &'a [u8], d: &Dialect) -> Result<Start<'a>, Error> {
    match prefix_state(b, d.version, false) {
        None => Err(Error::Incomplete),
        Some(true) => response(b, d),
        Some(false) => request(b, d),
    }
}

/// `b` starts with a known method, a space and a target beginning with `/` of at least
/// [`LONG_TARGET`] printable bytes (a long URL whose version is beyond the probe window).
pub fn long_request_target(b: &[u8], d: &Dialect) -> bool {
    let Some(sp) = b.iter().take(MAX_METHOD + 1).position(|&c| c == b' ') else { return false };
    let (Some(method), Some(target)) = (b.get(..sp), b.get(sp + 1..)) else { return false };
    d.methods.contains(&method)
        && target.len() >= LONG_TARGET
        && target.first() == Some(&b'/')
        && target.iter().all(|&c| c > 0x20 && c != 0x7f)
}

/// The end of the version string that starts at `at`.
fn version_end(b: &[u8], at: usize, d: &Dialect) -> Result<usize, Error> {
    match prefix_state(b.get(at..).unwrap_or(&[]), d.version, false) {
        None => return Err(Error::Incomplete),
        Some(false) => return Err(Error::Invalid),
        Some(true) => {}
    }
    let mut i = at + d.version.len();
    for &t in d.version_tail {
        let c = *b.get(i).ok_or(Error::Incomplete)?;
        let ok = if t == b'#' { c.is_ascii_digit() } else { c == t };
        if !ok {
            return Err(Error::Invalid);
        }
        i += 1;
    }
    Ok(i)
}

fn response<'a>(b: &'a [u8], d: &Dialect) -> Result<Start<'a>, Error> {
    let v = version_end(b, 0, d)?;
    if *b.get(v).ok_or(Error::Incomplete)? != b' ' {
        return Err(Error::Invalid);
    }
    let mut status: u16 = 0;
    for i in v + 1..v + 4 {
        let c = *b.get(i).ok_or(Error::Incomplete)?;
        if !c.is_ascii_digit() {
            return Err(Error::Invalid);
        }
        status = status * 10 + u16::from(c - b'0');
    }
    if !(100..700).contains(&status) {
        return Err(Error::Invalid);
    }
    match b.get(v + 4) {
        None => Err(Error::Incomplete),
        Some(b' ' | b'\r' | b'\n') => Ok(Start::Response { version: b.get(..v).unwrap_or(&[]), status }),
        Some(_) => Err(Error::Invalid),
    }
}

fn request<'a>(b: &'a [u8], d: &Dialect) -> Result<Start<'a>, Error> {
    let Some(sp) = b.iter().take(MAX_METHOD + 1).position(|&c| c == b' ') else {
        if b.len() <= MAX_METHOD && d.methods.iter().any(|m| m.starts_with(b)) {
            return Err(Error::Incomplete);
        }
        return Err(Error::Invalid);
    };
    let method = b.get(..sp).ok_or(Error::Invalid)?;
    if !d.methods.contains(&method) {
        return Err(Error::Invalid);
    }
    let t0 = sp + 1;
    let rest = b.get(t0..).unwrap_or(&[]);
    let mut tlen = None;
    for (i, &c) in rest.iter().enumerate() {
        if c == b' ' {
            tlen = Some(i);
            break;
        }
        // A control byte (CR, LF) before the version: HTTP/0.9 or not this dialect.
        if c < 0x20 || c == 0x7f {
            return Err(Error::Invalid);
        }
    }
    let tlen = tlen.ok_or(Error::Incomplete)?;
    if tlen == 0 {
        return Err(Error::Invalid);
    }
    let v0 = t0 + tlen + 1;
    let v = version_end(b, v0, d)?;
    match b.get(v) {
        None => Err(Error::Incomplete),
        Some(b'\r' | b'\n') => Ok(Start::Request {
            method,
            target: b.get(t0..t0 + tlen).unwrap_or(&[]),
            version: b.get(v0..v).unwrap_or(&[]),
        }),
        Some(_) => Err(Error::Invalid),
    }
}

/// The length of the header block at the start of `b` (through its empty line).
pub fn head_len(b: &[u8]) -> Result<usize, Error> {
    let window = b.get(..MAX_HEAD).unwrap_or(b);
    let mut i = 0;
    while let Some(p) = window.get(i..).and_then(|w| w.iter().position(|&c| c == b'\n')) {
        let nl = i + p;
        match window.get(nl + 1) {
            Some(b'\n') => return Ok(nl + 2),
            Some(b'\r') => match window.get(nl + 2) {
                Some(b'\n') => return Ok(nl + 3),
                Some(_) => {}
                None => break,
            },
            Some(_) => {}
            None => break,
        }
        i = nl + 1;
    }
    if b.len() >= MAX_HEAD {
        Err(Error::Invalid)
    } else {
        Err(Error::Incomplete)
    }
}

/// The line at the start of `b` without its terminator, and the bytes after it.
pub fn line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = crate::app::bytes::line_end(b)?;
    let l = b.get(..nl)?;
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    Some((l, b.get(nl + 1..).unwrap_or(&[])))
}

/// The header lines of a complete head (start line skipped): `(name, value)` with the value
/// trimmed; lines without a colon and folded continuation lines are skipped.
pub fn headers(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = line(head).map(|(_, r)| r).unwrap_or(&[]);
    std::iter::from_fn(move || {
        let (l, r) = line(rest)?;
        rest = r;
        Some(l)
    })
    .take(MAX_HEADERS)
    .take_while(|l| !l.is_empty())
    .filter(|l| !matches!(l.first(), Some(b' ' | b'\t')))
    .filter_map(|l| {
        let colon = l.iter().position(|&c| c == b':')?;
        Some((trim(l.get(..colon)?), trim(l.get(colon + 1..)?)))
    })
}

/// The value of the first header named one of `names` (case-insensitive; several names for
/// SIP's compact forms).
pub fn header<'a>(head: &'a [u8], names: &[&[u8]]) -> Option<&'a [u8]> {
    headers(head).find(|(n, _)| names.iter().any(|w| n.eq_ignore_ascii_case(w))).map(|(_, v)| v)
}

/// `b` without leading and trailing spaces and tabs.
pub fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|&c| c != b' ' && c != b'\t').unwrap_or(b.len());
    let e = b.iter().rposition(|&c| c != b' ' && c != b'\t').map_or(s, |e| e + 1);
    b.get(s..e).unwrap_or(&[])
}

/// The text after the status code of a complete status line (the reason phrase).
pub fn reason(head: &[u8]) -> &[u8] {
    let first = line(head).map(|(l, _)| l).unwrap_or(&[]);
    let mut parts = first.splitn(3, |&c| c == b' ');
    parts.nth(2).unwrap_or(&[])
}

/// A decimal `Content-Length` (at most 18 digits).
pub fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0')))
}

/// A header value lists `token` (comma-separated, case-insensitive).
pub fn has_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&c| c == b',').any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// The size of a chunk from its chunk-size line (hex, extensions after `;` ignored).
pub fn chunk_size(l: &[u8]) -> Option<u64> {
    let hex = trim(l.split(|&c| c == b';').next().unwrap_or(&[]));
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    hex.iter().try_fold(0u64, |n, &c| Some(n * 16 + u64::from((c as char).to_digit(16)?)))
}

/// Splits `host[:port]` (IPv6 literals in brackets keep them).
pub fn host_port(h: &[u8]) -> (&[u8], Option<u16>) {
    let (host, port) = if h.first() == Some(&b'[') {
        match h.iter().position(|&c| c == b']') {
            Some(e) => (h.get(..=e).unwrap_or(h), h.get(e + 1..).and_then(|r| r.strip_prefix(b":"))),
            None => (h, None),
        }
    } else {
        match h.iter().position(|&c| c == b':') {
            Some(c) => (h.get(..c).unwrap_or(h), h.get(c + 1..)),
            None => (h, None),
        }
    };
    let port = port.and_then(|p| {
        if p.is_empty() || p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        u16::try_from(p.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))).ok()
    });
    (host, port)
}

/// The authority of an absolute URI (`scheme://[user@]authority/...`).
pub fn uri_authority(uri: &[u8]) -> Option<&[u8]> {
    let s = uri.windows(3).take(16).position(|w| w == b"://")?;
    let rest = uri.get(s + 3..)?;
    let end = rest.iter().position(|&c| matches!(c, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let auth = rest.get(..end)?;
    let auth = match auth.iter().rposition(|&c| c == b'@') {
        Some(at) => auth.get(at + 1..)?,
        None => auth,
    };
    Some(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines() {
        assert_eq!(
            start(b"GET /a?b HTTP/1.1\r\n", &HTTP),
            Ok(Start::Request { method: b"GET", target: b"/a?b", version: b"HTTP/1.1" })
        );
        assert_eq!(
            start(b"HTTP/1.0 404 Not Found\r\n", &HTTP),
            Ok(Start::Response { version: b"HTTP/1.0", status: 404 })
        );
        assert_eq!(start(b"HTTP/1.1 200\r\n", &HTTP), Ok(Start::Response { version: b"HTTP/1.1", status: 200 }));
        assert_eq!(start(b"GET /a HTTP/1.", &HTTP), Err(Error::Incomplete));
        assert_eq!(start(b"GE", &HTTP), Err(Error::Incomplete));
        assert_eq!(start(b"HTTP/1.1 20", &HTTP), Err(Error::Incomplete));
        assert_eq!(start(b"PRI * HTTP/2.0\r\n", &HTTP), Err(Error::Invalid));
        assert_eq!(start(b"GET / HTTP/2.0\r\n", &HTTP), Err(Error::Invalid));
        assert_eq!(start(b"OPTIONS rtsp://h/ RTSP/1.0\r\n", &HTTP), Err(Error::Invalid));
        assert_eq!(start(b"GET /\r\n", &HTTP), Err(Error::Invalid));
        assert_eq!(start(b"HTTP/1.1 2x0 OK\r\n", &HTTP), Err(Error::Invalid));
        assert_eq!(start(b"FOO / HTTP/1.1\r\n", &HTTP), Err(Error::Invalid));
    }

    #[test]
    fn head_and_headers() {
        let h = b"GET / HTTP/1.1\r\nHost: a.b\r\nX:  y \r\n folded\r\nbad\r\n\r\nBODY";
        assert_eq!(head_len(h), Ok(h.len() - 4));
        let hs: Vec<_> = headers(h).collect();
        assert_eq!(hs, vec![(&b"Host"[..], &b"a.b"[..]), (&b"X"[..], &b"y"[..])]);
        assert_eq!(header(h, &[b"z", b"x"]), Some(&b"y"[..]));
        assert_eq!(head_len(b"GET / HTTP/1.1\nA: b\n\n"), Ok(21));
        assert_eq!(head_len(b"GET / HTTP/1.1\r\nA: b\r\n"), Err(Error::Incomplete));
        assert_eq!(head_len(&[b'a'; MAX_HEAD]), Err(Error::Invalid));
        assert_eq!(reason(b"HTTP/1.1 404 Not Found\r\n\r\n"), b"Not Found");
    }

    #[test]
    fn values() {
        assert_eq!(content_length(b"123"), Some(123));
        assert_eq!(content_length(b"12a"), None);
        assert_eq!(chunk_size(b"1a;ext=1"), Some(26));
        assert_eq!(chunk_size(b"zz"), None);
        assert_eq!(host_port(b"Example.com:8080"), (&b"Example.com"[..], Some(8080)));
        assert_eq!(host_port(b"[::1]:81"), (&b"[::1]"[..], Some(81)));
        assert_eq!(host_port(b"h:99999"), (&b"h"[..], None));
        assert_eq!(uri_authority(b"http://u@h:1/p"), Some(&b"h:1"[..]));
        assert_eq!(uri_authority(b"/p"), None);
        assert!(has_token(b"keep-alive, Upgrade", b"upgrade"));
    }
}
