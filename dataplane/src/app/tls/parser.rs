//! Pure parsing functions of TLS: record headers (and the probe's checks on them), the
//! SSLv2-compatible ClientHello, and zero-copy views of ClientHello and ServerHello with
//! iterators over their extensions. Nothing here allocates.
use crate::app::bytes::{be16, be24, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not TLS.
    Invalid,
}

pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const HEARTBEAT: u8 = 24;

pub const HS_CLIENT_HELLO: u8 = 1;
pub const HS_SERVER_HELLO: u8 = 2;
pub const HS_CERTIFICATE: u8 = 11;
pub const HS_SERVER_HELLO_DONE: u8 = 14;
/// Not a TLS content type: marks an SSLv2 record in the stream parser.
pub const SSLV2_MARK: u8 = 0x80;

pub const RECORD_HEADER: usize = 5;
/// Largest record body (2^14 plus the expansion TLS 1.2 allows for ciphertext).
pub const MAX_RECORD: u16 = 16384 + 2048;

pub const EXT_SNI: u16 = 0;
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
pub const EXT_EC_POINT_FORMATS: u16 = 11;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
pub const EXT_ALPN: u16 = 16;
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa; ignored by JA3 and JA4.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A record header: content type, version, body length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub typ: u8,
    pub version: u16,
    pub len: u16,
}

/// Checks a record header: content type 20..=24, version 3.0..=3.4, length 1..=MAX_RECORD.
/// A prefix of a valid header is `Incomplete`.
pub fn record_header(b: &[u8]) -> Result<Record, Error> {
    if let Some(t) = u8_at(b, 0) {
        if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&t) {
            return Err(Error::Invalid);
        }
    }
    if let Some(major) = u8_at(b, 1) {
        if major != 3 {
            return Err(Error::Invalid);
        }
    }
    if let Some(minor) = u8_at(b, 2) {
        if minor > 4 {
            return Err(Error::Invalid);
        }
    }
    if let Some(hi) = u8_at(b, 3) {
        if u16::from(hi) > MAX_RECORD >> 8 {
            return Err(Error::Invalid);
        }
    }
    let (Some(typ), Some(version), Some(len)) = (u8_at(b, 0), be16(b, 1), be16(b, 3)) else {
        return Err(Error::Incomplete);
    };
    if len == 0 || len > MAX_RECORD {
        return Err(Error::Invalid);
    }
    Ok(Record { typ, version, len })
}

/// Handshake types seen in clear: HelloRequest, ClientHello, ServerHello, NewSessionTicket,
/// Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone, CertificateVerify,
/// ClientKeyExchange, Finished, CertificateStatus.
fn known_handshake(t: u8) -> bool {
    matches!(t, 0 | 1 | 2 | 4 | 11 | 12 | 13 | 14 | 15 | 16 | 20 | 22)
}

/// The probe's decision on the first bytes of a direction.
pub fn probe(b: &[u8]) -> Result<(), Error> {
    match u8_at(b, 0) {
        None => return Err(Error::Incomplete),
        Some(c) if c & 0x80 != 0 => return sslv2_client_hello(b),
        Some(_) => {}
    }
    let rec = record_header(b)?;
    if rec.typ == HANDSHAKE {
        match handshake_start(b, rec) {
            Ok(true) => return Ok(()),
            Ok(false) => {} // encrypted handshake (mid-stream): checked like other records
            Err(e) => return Err(e),
        }
    }
    match rec.typ {
        CHANGE_CIPHER_SPEC if rec.len != 1 => return Err(Error::Invalid),
        CHANGE_CIPHER_SPEC if u8_at(b, RECORD_HEADER).is_some_and(|v| v != 1) => return Err(Error::Invalid),
        ALERT if rec.len < 2 => return Err(Error::Invalid),
        _ => {}
    }
    if rec.version > 0x0303 {
        return Err(Error::Invalid); // only a ClientHello's record says 3.4 (never in practice)
    }
    // When the buffer holds the next record's header, it must be valid too.
    let next = RECORD_HEADER + rec.len as usize;
    match b.get(next..) {
        Some(rest) if !rest.is_empty() => match record_header(rest) {
            Ok(r) if r.version >> 8 == 3 && (r.version & 0xff) <= 3 => Ok(()),
            Ok(_) => Err(Error::Invalid),
            Err(Error::Incomplete) => Ok(()),
            Err(e) => Err(e),
        },
        _ => Ok(()),
    }
}

/// A handshake record's first message: `Ok(true)` a known message whose header is
/// consistent, `Ok(false)` not a known type (possibly an encrypted Finished mid-stream).
fn handshake_start(b: &[u8], rec: Record) -> Result<bool, Error> {
    let Some(t) = u8_at(b, 5) else { return Err(Error::Incomplete) };
    if !known_handshake(t) {
        return Ok(false);
    }
    let Some(len) = be24(b, 6) else { return Err(Error::Incomplete) };
    let len = len as usize;
    let rec_len = rec.len as usize;
    if rec_len < 4 {
        return Ok(false);
    }
    if t == HS_CLIENT_HELLO || t == HS_SERVER_HELLO {
        // A hello is at least version + random + session id length + cipher(s) + compression.
        if !(38..=0xffff).contains(&len) {
            return Ok(false);
        }
        // The hello either fills the record or continues in the next one(s).
        if len + 4 > rec_len && rec_len < 64 {
            return Ok(false);
        }
        let Some(major) = u8_at(b, 9) else { return Err(Error::Incomplete) };
        let Some(minor) = u8_at(b, 10) else { return Err(Error::Incomplete) };
        if major != 3 || minor > 4 {
            return Ok(false);
        }
        return Ok(true);
    }
    // Other messages: the length must be plausible (a record may hold several messages
    // or a fragment of a large one, e.g. a certificate chain).
    Ok(len <= (1 << 20))
}

/// An SSLv2-compatible ClientHello (2-byte header with the high bit set, message type 1,
/// version 0x0002 or 3.x, and lengths that add up).
pub fn sslv2_client_hello(b: &[u8]) -> Result<(), Error> {
    if let Some(t) = u8_at(b, 2) {
        if t != 1 {
            return Err(Error::Invalid);
        }
    }
    if let Some(major) = u8_at(b, 3) {
        if major != 0 && major != 3 {
            return Err(Error::Invalid);
        }
    }
    let (Some(h), Some(version)) = (be16(b, 0), be16(b, 3)) else { return Err(Error::Incomplete) };
    if version != 0x0002 && !(0x0300..=0x0303).contains(&version) {
        return Err(Error::Invalid);
    }
    let len = (h & 0x7fff) as usize;
    let (Some(ciphers), Some(sid), Some(challenge)) = (be16(b, 5), be16(b, 7), be16(b, 9)) else {
        return Err(Error::Incomplete);
    };
    let (ciphers, sid, challenge) = (ciphers as usize, sid as usize, challenge as usize);
    if ciphers == 0 || ciphers % 3 != 0 || (sid != 0 && sid != 16) || !(16..=32).contains(&challenge) {
        return Err(Error::Invalid);
    }
    if 9 + ciphers + sid + challenge != len {
        return Err(Error::Invalid);
    }
    Ok(())
}

/// Big-endian u16 values of a list.
pub fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]))
}

/// Splits `len`-prefixed bytes (length of `n` bytes) at `off`: (body, offset after it).
fn vec_at(b: &[u8], off: usize, n: usize) -> Option<(&[u8], usize)> {
    let len = match n {
        1 => u8_at(b, off)? as usize,
        2 => be16(b, off)? as usize,
        _ => be24(b, off)? as usize,
    };
    let start = off + n;
    Some((b.get(start..start + len)?, start + len))
}

/// The extensions block at `off`: absent is empty; a block cut short (a hello truncated to
/// what was kept) yields the extensions that are whole.
fn extensions_at(b: &[u8], off: usize) -> &[u8] {
    match vec_at(b, off, 2) {
        Some((e, _)) => e,
        None => b.get(off + 2..).unwrap_or(&[]),
    }
}

/// Iterates over (type, body) of an extensions block; stops at the first malformed entry.
#[derive(Clone, Debug)]
pub struct Extensions<'a>(pub &'a [u8]);

impl<'a> Iterator for Extensions<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let typ = be16(self.0, 0)?;
        let Some((body, end)) = vec_at(self.0, 2, 2) else {
            self.0 = &[];
            return None;
        };
        self.0 = self.0.get(end..).unwrap_or(&[]);
        Some((typ, body))
    }
}

/// A ClientHello's body (after the 4-byte handshake header).
#[derive(Clone, Copy, Debug)]
pub struct ClientHello<'a> {
    pub version: u16,
    /// Cipher suites, 2 bytes each.
    pub ciphers: &'a [u8],
    /// The extensions block (empty when absent).
    pub exts: &'a [u8],
}

pub fn client_hello(b: &[u8]) -> Option<ClientHello<'_>> {
    let version = be16(b, 0)?;
    let (_sid, off) = vec_at(b, 34, 1)?;
    let (ciphers, off) = vec_at(b, off, 2)?;
    let (_comp, off) = vec_at(b, off, 1)?;
    Some(ClientHello { version, ciphers, exts: extensions_at(b, off) })
}

/// A ServerHello's body.
#[derive(Clone, Copy, Debug)]
pub struct ServerHello<'a> {
    pub version: u16,
    pub cipher: u16,
    pub exts: &'a [u8],
}

pub fn server_hello(b: &[u8]) -> Option<ServerHello<'_>> {
    let version = be16(b, 0)?;
    let (_sid, off) = vec_at(b, 34, 1)?;
    let cipher = be16(b, off)?;
    Some(ServerHello { version, cipher, exts: extensions_at(b, off + 3) })
}

/// The first extension of type `t`.
pub fn ext(exts: &[u8], t: u16) -> Option<&[u8]> {
    Extensions(exts).find(|(typ, _)| *typ == t).map(|(_, b)| b)
}

/// The host name of a server_name extension.
pub fn sni(body: &[u8]) -> Option<&[u8]> {
    let (list, _) = vec_at(body, 0, 2)?;
    let mut off = 0;
    while let Some(typ) = u8_at(list, off) {
        let (name, end) = vec_at(list, off + 1, 2)?;
        if typ == 0 {
            return Some(name);
        }
        off = end;
    }
    None
}

/// The protocol names of an ALPN extension.
pub fn alpns(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let list = vec_at(body, 0, 2).map(|(l, _)| l).unwrap_or(&[]);
    let mut off = 0;
    std::iter::from_fn(move || {
        let (name, end) = vec_at(list, off, 1)?;
        off = end;
        Some(name)
    })
}

/// A u16 list with a 2-byte length (supported_groups, signature_algorithms).
pub fn list16(body: &[u8]) -> &[u8] {
    vec_at(body, 0, 2).map(|(l, _)| l).unwrap_or(&[])
}

/// A list with a 1-byte length (ec_point_formats, a ClientHello's supported_versions).
pub fn list8(body: &[u8]) -> &[u8] {
    vec_at(body, 0, 1).map(|(l, _)| l).unwrap_or(&[])
}

/// The first certificate of a Certificate message's body (TLS 1.2 layout: a 3-byte list
/// length, then 3-byte length + DER per certificate). `None` if it is not all there.
pub fn first_certificate(b: &[u8]) -> Option<&[u8]> {
    let (der, _) = vec_at(b, 3, 3)?;
    Some(der)
}

/// EVE's name of a (negotiated) protocol version, as Suricata writes it.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        v if v >> 8 == 0x7f => "TLS 1.3", // drafts
        _ => "UNDETERMINED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn record_headers() {
        assert_eq!(record_header(b"\x16\x03\x01\x02\x00"), Ok(Record { typ: 22, version: 0x0301, len: 512 }));
        assert_eq!(record_header(b"\x16\x03"), Err(Error::Incomplete));
        assert_eq!(record_header(b"\x16\x02"), Err(Error::Invalid));
        assert_eq!(record_header(b"\x19\x03\x01\x00\x10"), Err(Error::Invalid));
        assert_eq!(record_header(b"\x17\x03\x03\x50\x00"), Err(Error::Invalid));
        assert_eq!(record_header(b"\x17\x03\x03\x00\x00"), Err(Error::Invalid));
    }

    #[test]
    fn sslv2_hello() {
        // len 0x2e = 9 + 3 + 0 + 16 + 18? -> 9 + 21 + 0 + 16 = 46
        let mut m = vec![0x80, 46, 1, 3, 1, 0, 21, 0, 0, 0, 16];
        m.extend_from_slice(&[0; 21 + 16]);
        assert_eq!(sslv2_client_hello(&m), Ok(()));
        assert_eq!(probe(&m), Ok(()));
        assert_eq!(sslv2_client_hello(&m[..6]), Err(Error::Incomplete));
        m[2] = 2;
        assert_eq!(sslv2_client_hello(&m), Err(Error::Invalid));
    }

    #[test]
    fn extension_lists() {
        // server_name: list len 8, type 0, len 5, "a.com"
        let sni_body = b"\x00\x08\x00\x00\x05a.com";
        assert_eq!(sni(sni_body), Some(&b"a.com"[..]));
        let alpn_body = b"\x00\x0c\x02h2\x08http/1.1";
        let v: Vec<_> = alpns(alpn_body).collect();
        assert_eq!(v, [&b"h2"[..], &b"http/1.1"[..]]);
        let exts = b"\x00\x00\x00\x0a\x00\x08\x00\x00\x05a.com\x00\x10\x00\x05\x00\x03\x02h2";
        let types: Vec<_> = Extensions(exts).map(|(t, _)| t).collect();
        assert_eq!(types, [0, 16]);
        assert_eq!(Extensions(b"\x00\x00\x00\x09ab").count(), 0);
    }
}
