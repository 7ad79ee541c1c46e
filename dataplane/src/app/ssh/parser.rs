//! Pure parsing functions of SSH: the identification line ("SSH-2.0-OpenSSH_8.4p1 ...")
//! and the binary packet carrying KEXINIT (RFC 4253), whose name-lists make hassh.
use crate::app::bytes::{be32, prefix_state, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not SSH.
    Invalid,
}

/// Longest identification line (RFC 4253 4.2: 255 bytes with CR LF).
pub const MAX_LINE: usize = 255;
/// Empty lines (CR LF) skipped before the identification line.
pub const MAX_LEADING_EOL: usize = 8;
/// Largest binary packet accepted (RFC 4253 6.1: at least 35000 must be handled).
pub const MAX_PACKET: u32 = 35000;
/// The message number of KEXINIT.
pub const MSG_KEXINIT: u8 = 20;

/// Protocol versions accepted after "SSH-".
const VERSIONS: &[&[u8]] = &[b"2.0-", b"1.99-", b"1.5-", b"1.3-", b"1.0-"];

/// Bytes of leading CR/LF before the identification line.
pub fn leading_eol(b: &[u8]) -> usize {
    b.iter().take(MAX_LEADING_EOL + 1).take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// The probe's decision: "SSH-" then a known protocol version and "-", then printable
/// software version bytes.
pub fn probe(b: &[u8]) -> Result<(), Error> {
    let skip = leading_eol(b);
    if skip > MAX_LEADING_EOL {
        return Err(Error::Invalid);
    }
    let b = b.get(skip..).unwrap_or(&[]);
    match prefix_state(b, b"SSH-", false) {
        Some(false) => return Err(Error::Invalid),
        None => return Err(Error::Incomplete),
        Some(true) => {}
    }
    let rest = b.get(4..).unwrap_or(&[]);
    let mut incomplete = false;
    let mut version_len = None;
    for v in VERSIONS {
        match prefix_state(rest, v, false) {
            Some(true) => version_len = Some(v.len()),
            None => incomplete = true,
            Some(false) => {}
        }
    }
    let Some(n) = version_len else {
        return Err(if incomplete { Error::Incomplete } else { Error::Invalid });
    };
    // The software version: at least one printable byte, no control characters before EOL.
    let sw = rest.get(n..).unwrap_or(&[]);
    let Some(&first) = sw.first() else { return Err(Error::Incomplete) };
    if !first.is_ascii_graphic() {
        return Err(Error::Invalid);
    }
    let line = sw.iter().take(MAX_LINE).take_while(|&&c| c != b'\r' && c != b'\n');
    if line.clone().any(|&c| !(c.is_ascii_graphic() || c == b' ')) {
        return Err(Error::Invalid);
    }
    Ok(())
}

/// An identification line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Banner<'a> {
    pub proto_version: &'a [u8],
    pub software_version: &'a [u8],
}

/// Parses "SSH-protoversion-softwareversion[ comments]" (`line` without its EOL). The
/// software version ends at the first space, as Suricata reads it.
pub fn banner(line: &[u8]) -> Option<Banner<'_>> {
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&c| c == b'-')?;
    let proto_version = rest.get(..dash)?;
    let sw = rest.get(dash + 1..)?;
    let end = sw.iter().position(|&c| c == b' ').unwrap_or(sw.len());
    Some(Banner { proto_version, software_version: sw.get(..end)? })
}

/// One line: (line without CR LF, bytes consumed), `Incomplete` until its LF arrives,
/// `Invalid` when longer than [`MAX_LINE`].
pub fn line(b: &[u8]) -> Result<(&[u8], usize), Error> {
    let window = b.get(..b.len().min(MAX_LINE + 1)).unwrap_or(b);
    match window.iter().position(|&c| c == b'\n') {
        Some(i) => {
            let l = window.get(..i).unwrap_or(&[]);
            Ok((l.strip_suffix(b"\r").unwrap_or(l), i + 1))
        }
        None if b.len() > MAX_LINE => Err(Error::Invalid),
        None => Err(Error::Incomplete),
    }
}

/// A binary packet: (payload, bytes consumed). The MAC, if any, is not expected (only
/// packets before NEWKEYS are parsed).
pub fn packet(b: &[u8]) -> Result<(&[u8], usize), Error> {
    let len = be32(b, 0).ok_or(Error::Incomplete)?;
    if !(5..=MAX_PACKET).contains(&len) {
        return Err(Error::Invalid);
    }
    let pad = u8_at(b, 4).ok_or(Error::Incomplete)? as usize;
    let len = len as usize;
    if pad + 1 > len {
        return Err(Error::Invalid);
    }
    if b.len() < 4 + len {
        return Err(Error::Incomplete);
    }
    let payload = b.get(5..4 + len - pad).ok_or(Error::Invalid)?;
    Ok((payload, 4 + len))
}

/// The name-lists of a KEXINIT payload hassh uses: kex, then (c2s, s2c) for encryption,
/// MAC and compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KexInit<'a> {
    pub kex: &'a [u8],
    pub enc: [&'a [u8]; 2],
    pub mac: [&'a [u8]; 2],
    pub comp: [&'a [u8]; 2],
}

pub fn kexinit(payload: &[u8]) -> Option<KexInit<'_>> {
    if u8_at(payload, 0)? != MSG_KEXINIT {
        return None;
    }
    let mut off = 17; // type + cookie
    let mut lists: [&[u8]; 8] = [&[]; 8];
    for l in lists.iter_mut() {
        let n = be32(payload, off)? as usize;
        *l = payload.get(off + 4..(off + 4).checked_add(n)?)?;
        off += 4 + n;
    }
    let [kex, _hostkey, e0, e1, m0, m1, c0, c1] = lists;
    Some(KexInit { kex, enc: [e0, e1], mac: [m0, m1], comp: [c0, c1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_banner_prefixes() {
        assert_eq!(probe(b"SSH-2.0-OpenSSH_8.4p1\r\n"), Ok(()));
        assert_eq!(probe(b"SSH-1.99-Cisco-1.25\r\n"), Ok(()));
        assert_eq!(probe(b"SSH-1.5-1.2.27\n"), Ok(()));
        assert_eq!(probe(b"\r\nSSH-2.0-x"), Ok(()));
        assert_eq!(probe(b"SSH-2.0-"), Err(Error::Incomplete));
        assert_eq!(probe(b"SSH-1."), Err(Error::Incomplete));
        assert_eq!(probe(b"SS"), Err(Error::Incomplete));
        assert_eq!(probe(b"\r\n"), Err(Error::Incomplete));
        assert_eq!(probe(b"SSH-3.0-x"), Err(Error::Invalid));
        assert_eq!(probe(b"SSH-2.0-\x01"), Err(Error::Invalid));
        assert_eq!(probe(b"SSH-2.0-abc\x00def\r\n"), Err(Error::Invalid));
    }

    #[test]
    fn banner_fields() {
        let b = banner(b"SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7").unwrap();
        assert_eq!(b.proto_version, b"2.0");
        assert_eq!(b.software_version, b"OpenSSH_7.4p1");
        assert_eq!(line(b"SSH-2.0-x\r\nrest"), Ok((&b"SSH-2.0-x"[..], 11)));
        assert_eq!(line(b"SSH-2.0-x"), Err(Error::Incomplete));
        assert_eq!(line(&[b'a'; 300]), Err(Error::Invalid));
    }

    #[test]
    fn packet_bounds() {
        assert_eq!(packet(b"\x00\x00\x00\x06\x02\x14ab\x00\x00"), Ok((&b"\x14ab"[..], 10)));
        assert_eq!(packet(b"\x00\x00\x00\x06\x02\x14"), Err(Error::Incomplete));
        assert_eq!(packet(b"\x00\x01\x00\x00\x02"), Err(Error::Invalid));
        assert_eq!(packet(b"\x00\x00\x00\x06\x09\x14ab\x00\x00"), Err(Error::Invalid));
    }
}
