//! Pure parsing functions of QUIC datagrams: IETF long headers (RFC 8999/9000, drafts,
//! mvfst, QUIC v2, Google's Q046/Q050/T05x), gQUIC's public header (Q043 and older),
//! version negotiation, and the tags of an unencrypted gQUIC CHLO (SNI, UAID).
use crate::app::bytes::{be32, le16, le32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not enough to decide (a short-header packet says nothing).
    Incomplete,
    /// Not QUIC.
    Invalid,
}

/// Longest connection ID (RFC 9000 17.2).
pub const MAX_CID: usize = 20;
/// A client's Initial datagram is padded to at least this (RFC 9000 14.1).
pub const MIN_CLIENT_INITIAL: usize = 1200;
/// Bytes after the header searched for a gQUIC handshake message tag.
pub const TAG_WINDOW: usize = 96;
/// Entries of a gQUIC handshake message read at most.
pub const MAX_TAGS: u16 = 64;

pub const VERSION_1: u32 = 0x0000_0001;
pub const VERSION_2: u32 = 0x6b33_43cf;

/// How a version lays out its long header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IETF invariants: DCID length byte + DCID, SCID length byte + SCID.
    Ietf,
    /// Google Q0xx/T0xx on the IETF invariants (Q050, T050, T051): no Length field.
    GoogleIetf,
    /// Google Q046: one byte with both CID lengths as nibbles (n + 3 when not 0).
    Q046,
    /// A reserved version forcing version negotiation (0x?a?a?a?a).
    Reserved,
}

fn is_digit_pair(v: u32) -> bool {
    let (a, b) = ((v >> 8) as u8, v as u8);
    a.is_ascii_digit() && b.is_ascii_digit()
}

/// Google's "Q0dd" / "T0dd" versions.
pub fn is_google(v: u32) -> bool {
    matches!(v >> 16, 0x5130 | 0x5430) && is_digit_pair(v)
}

/// The layout of a known long-header version (`None`: unknown, or 0 = negotiation).
pub fn family(v: u32) -> Option<Family> {
    match v {
        VERSION_1 | VERSION_2 | 0x709a_50c4 => Some(Family::Ietf),
        v if v >> 8 == 0x00ff_0000 && (v & 0xff) >= 1 => Some(Family::Ietf), // drafts
        v if v >> 4 == 0x0fac_eb00 => Some(Family::Ietf),                    // mvfst
        0x5130_3436 => Some(Family::Q046),
        v if is_google(v) => Some(Family::GoogleIetf),
        v if v & 0x0f0f_0f0f == 0x0a0a_0a0a => Some(Family::Reserved),
        _ => None,
    }
}

/// A QUIC variable-length integer: (value, bytes).
pub fn varint(b: &[u8], off: usize) -> Option<(u64, usize)> {
    let first = u8_at(b, off)?;
    let n = 1usize << (first >> 6);
    let mut v = u64::from(first & 0x3f);
    for i in 1..n {
        v = (v << 8) | u64::from(u8_at(b, off + i)?);
    }
    Some((v, n))
}

/// What a datagram's first packet is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A long header (version, whether it is an Initial, offset of what follows the header
    /// fields this parser reads).
    Long { version: u32, initial: bool, body: usize },
    /// A version negotiation.
    Negotiation,
    /// gQUIC's public header with a version (Q043 and older): version and body offset.
    Public { version: u32, body: usize },
}

/// Reads the connection IDs of an IETF-invariant long header from offset 5: the offset after
/// the SCID.
fn ietf_cids(b: &[u8]) -> Result<usize, Error> {
    let dcil = u8_at(b, 5).ok_or(Error::Incomplete)? as usize;
    if dcil > MAX_CID {
        return Err(Error::Invalid);
    }
    let scil = u8_at(b, 6 + dcil).ok_or(Error::Invalid)? as usize;
    if scil > MAX_CID {
        return Err(Error::Invalid);
    }
    let end = 7 + dcil + scil;
    if end > b.len() {
        return Err(Error::Invalid);
    }
    Ok(end)
}

/// Classifies one datagram. Short headers and gQUIC packets without a version are
/// `Incomplete` (they say nothing certain); anything else that is not QUIC is `Invalid`.
pub fn packet(b: &[u8]) -> Result<Packet, Error> {
    let first = u8_at(b, 0).ok_or(Error::Incomplete)?;
    if first & 0x80 == 0 {
        return public_header(b, first);
    }
    let version = be32(b, 1).ok_or(Error::Invalid)?;
    if version == 0 {
        let end = ietf_cids(b)?;
        let list = b.get(end..).unwrap_or(&[]);
        if list.is_empty() || list.len() % 4 != 0 {
            return Err(Error::Invalid);
        }
        let known = list.chunks_exact(4).any(|c| be32(c, 0).and_then(family).is_some());
        return if known { Ok(Packet::Negotiation) } else { Err(Error::Invalid) };
    }
    // The fixed bit (0x40) is not checked: peers may grease it (RFC 9287).
    let fam = family(version).ok_or(Error::Invalid)?;
    let typ = (first >> 4) & 0x03;
    match fam {
        Family::Q046 => {
            let cil = u8_at(b, 5).ok_or(Error::Invalid)?;
            let len = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
            let end = 6 + len(cil >> 4) + len(cil & 0x0f);
            if end > b.len() {
                return Err(Error::Invalid);
            }
            Ok(Packet::Long { version, initial: typ == 0, body: end })
        }
        Family::GoogleIetf => Ok(Packet::Long { version, initial: typ == 0, body: ietf_cids(b)? }),
        Family::Reserved => {
            // Only a client sends it, in a padded first datagram.
            let end = ietf_cids(b)?;
            if b.len() < MIN_CLIENT_INITIAL {
                return Err(Error::Invalid);
            }
            Ok(Packet::Long { version, initial: true, body: end })
        }
        Family::Ietf => {
            let end = ietf_cids(b)?;
            let initial = if version == VERSION_2 { typ == 1 } else { typ == 0 };
            let retry = if version == VERSION_2 { typ == 0 } else { typ == 3 };
            if retry {
                return Ok(Packet::Long { version, initial: false, body: end });
            }
            let mut off = end;
            if initial {
                let (token, n) = varint(b, off).ok_or(Error::Invalid)?;
                off = off.saturating_add(n).saturating_add(usize::try_from(token).unwrap_or(usize::MAX));
            }
            let (len, n) = varint(b, off).ok_or(Error::Invalid)?;
            let rest = b.len().saturating_sub(off + n) as u64;
            // Packet number (1..4 bytes) and at least an AEAD tag, within the datagram.
            if len < 17 || len > rest {
                return Err(Error::Invalid);
            }
            Ok(Packet::Long { version, initial, body: off + n })
        }
    }
}

/// gQUIC's public header: flags (0x80 unused, 0x40 multipath), CID, then the version when
/// flag 0x01 is set (client packets only).
fn public_header(b: &[u8], flags: u8) -> Result<Packet, Error> {
    if flags & 0x40 != 0 {
        return Err(Error::Incomplete); // an IETF short header, or gQUIC multipath: unknown
    }
    if flags & 0x01 == 0 {
        return Err(Error::Incomplete); // no version: a server's packet or a later one
    }
    // The CID is 8 bytes when 0x08 is set (older versions: 0x0c = 8, 0x08 = 4, 0x04 = 1).
    let candidates: &[usize] = match flags & 0x0c {
        0x0c => &[8],
        0x08 => &[8, 4],
        0x04 => &[1],
        _ => &[0],
    };
    for &cid in candidates {
        if let Some(v) = be32(b, 1 + cid) {
            if v >> 16 == 0x5130 && is_digit_pair(v) {
                return Ok(Packet::Public { version: v, body: 5 + cid });
            }
        }
    }
    Err(Error::Invalid)
}

/// A gQUIC server's first packets carry no version: its REJ or SHLO handshake message is
/// visible in clear in Q043 and older (public header with an 8-byte CID, or none).
pub fn public_server_hello(b: &[u8]) -> bool {
    let Some(flags) = u8_at(b, 0) else { return false };
    if flags & 0xc1 != 0 {
        return false;
    }
    let window = b.get(..b.len().min(TAG_WINDOW)).unwrap_or(b);
    window.windows(4).any(|w| w == b"REJ\0" || w == b"SHLO")
}

/// The tags of a gQUIC CHLO that EVE logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chlo<'a> {
    pub sni: Option<&'a [u8]>,
    pub ua: Option<&'a [u8]>,
}

/// The SNI and UAID values of a gQUIC CHLO found within [`TAG_WINDOW`] bytes of `body`.
pub fn chlo_tags(b: &[u8], body: usize) -> Option<Chlo<'_>> {
    let from = b.get(body..)?;
    let window = from.get(..from.len().min(TAG_WINDOW)).unwrap_or(from);
    let at = window.windows(4).position(|w| w == b"CHLO")?;
    let msg = from.get(at..)?;
    let n = le16(msg, 4)?.min(MAX_TAGS) as usize;
    let values = 8 + n * 8;
    let mut chlo = Chlo::default();
    let mut start = 0usize;
    for i in 0..n {
        let e = 8 + i * 8;
        let tag = msg.get(e..e + 4)?;
        let end = le32(msg, e + 4)? as usize;
        if end < start {
            return None;
        }
        let v = msg.get(values + start..values + end);
        match tag {
            b"SNI\0" => chlo.sni = v,
            b"UAID" => chlo.ua = v,
            _ => {}
        }
        start = end;
    }
    Some(chlo)
}

/// A version as Suricata writes it: "Q050"/"T051" for Google's, lower-case hex otherwise
/// ("1", "ff00001d", "6b3343cf").
#[derive(Clone, Copy, Debug)]
pub struct VersionName(pub u32);

impl std::fmt::Display for VersionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if is_google(self.0) {
            self.0.to_be_bytes().iter().try_for_each(|&c| std::fmt::Write::write_char(f, char::from(c)))
        } else {
            write!(f, "{:x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family(1), Some(Family::Ietf));
        assert_eq!(family(0xff00_001d), Some(Family::Ietf));
        assert_eq!(family(0xface_b002), Some(Family::Ietf));
        assert_eq!(family(0x5130_3530), Some(Family::GoogleIetf));
        assert_eq!(family(0x5130_3436), Some(Family::Q046));
        assert_eq!(family(0x1a2a_3a4a), Some(Family::Reserved));
        assert_eq!(family(0x1234_5678), None);
        let names: Vec<String> = [0x5130_3530, 1, 0xff00_001d].iter().map(|&v| VersionName(v).to_string()).collect();
        assert_eq!(names, ["Q050", "1", "ff00001d"]);
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x25], 0), Some((0x25, 1)));
        assert_eq!(varint(&[0x7b, 0xbd], 0), Some((15293, 2)));
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d], 0), Some((494_878_333, 4)));
        assert_eq!(varint(&[0x9d, 0x7f], 0), None);
    }

    #[test]
    fn chlo() {
        let mut m = b"\x0d\x01\x02\x03\x04\x05\x06\x07\x08Q043\x01".to_vec();
        m.extend_from_slice(&[0; 12]);
        m.extend_from_slice(
            b"\xa0\x01\x00\x40CHLO\x02\x00\x00\x00SNI\x00\x05\x00\x00\x00UAID\x0d\x00\x00\x00a.comChrome/1",
        );
        assert_eq!(packet(&m), Ok(Packet::Public { version: 0x5130_3433, body: 13 }));
        assert_eq!(chlo_tags(&m, 13), Some(Chlo { sni: Some(b"a.com"), ua: Some(b"Chrome/1") }));
    }
}
