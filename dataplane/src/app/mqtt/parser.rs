//! Pure MQTT parsing (3.1, 3.1.1, 5.0): fixed header, CONNECT, CONNACK, PUBLISH and
//! SUBSCRIBE.
use crate::app::bytes::{be16, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not this protocol.
    Invalid,
}

/// Largest remaining length the 4-byte varint can express.
pub const MAX_REMAINING: usize = 268_435_455;
/// Topic filters read from one SUBSCRIBE at most.
pub const MAX_FILTERS: usize = 16;

/// (packet type byte, remaining length, header length).
pub fn fixed_header(b: &[u8]) -> Result<(u8, usize, usize), Error> {
    let t = u8_at(b, 0).ok_or(Error::Incomplete)?;
    let (len, n) = varint(b.get(1..).unwrap_or(&[]))?;
    Ok((t, len, 1 + n))
}

/// A variable byte integer: its value and its length (1..=4).
pub fn varint(b: &[u8]) -> Result<(usize, usize), Error> {
    let mut v = 0usize;
    for i in 0..4 {
        let c = u8_at(b, i).ok_or(Error::Incomplete)?;
        v |= usize::from(c & 0x7f) << (7 * i);
        if c & 0x80 == 0 {
            // A non-minimal encoding (trailing zero continuation) is malformed.
            return if i > 0 && c == 0 { Err(Error::Invalid) } else { Ok((v, i + 1)) };
        }
    }
    Err(Error::Invalid)
}

/// A u16-length string and what follows.
pub fn string(b: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let n = usize::from(be16(b, 0).ok_or(Error::Incomplete)?);
    let s = b.get(2..2 + n).ok_or(Error::Incomplete)?;
    Ok((s, b.get(2 + n..).unwrap_or(&[])))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Connect<'a> {
    pub protocol: &'a [u8],
    pub version: u8,
    pub flags: u8,
    pub keepalive: u16,
    pub client_id: Option<&'a [u8]>,
    pub username: Option<&'a [u8]>,
}

pub const FLAG_USERNAME: u8 = 0x80;
pub const FLAG_PASSWORD: u8 = 0x40;
pub const FLAG_WILL_RETAIN: u8 = 0x20;
pub const FLAG_WILL: u8 = 0x04;
pub const FLAG_CLEAN: u8 = 0x02;

/// The variable header of CONNECT (checked: protocol name and level, flags), then as much
/// of the payload as `body` holds (client id, username).
pub fn connect(body: &[u8]) -> Result<Connect<'_>, Error> {
    let (protocol, rest) = string(body)?;
    let version = u8_at(rest, 0).ok_or(Error::Incomplete)?;
    match (protocol, version) {
        (b"MQTT", 4 | 5) | (b"MQIsdp", 3) => {}
        _ => return Err(Error::Invalid),
    }
    let flags = u8_at(rest, 1).ok_or(Error::Incomplete)?;
    let will_qos = (flags >> 3) & 3;
    if flags & 1 != 0 || will_qos == 3 || (flags & FLAG_WILL == 0 && flags & (FLAG_WILL_RETAIN | 0x18) != 0) {
        return Err(Error::Invalid);
    }
    if version < 5 && flags & FLAG_PASSWORD != 0 && flags & FLAG_USERNAME == 0 {
        return Err(Error::Invalid);
    }
    let keepalive = be16(rest, 2).ok_or(Error::Incomplete)?;
    let mut c = Connect { protocol, version, flags, keepalive, client_id: None, username: None };
    // The payload: best effort, the variable header already proved the protocol.
    let mut p = rest.get(4..).unwrap_or(&[]);
    if version == 5 {
        let Ok((n, l)) = varint(p) else { return Ok(c) };
        p = p.get(l + n..).unwrap_or(&[]);
    }
    let Ok((id, mut p)) = string(p) else { return Ok(c) };
    c.client_id = Some(id);
    if flags & FLAG_WILL != 0 {
        if version == 5 {
            let Ok((n, l)) = varint(p) else { return Ok(c) };
            p = p.get(l + n..).unwrap_or(&[]);
        }
        let Ok((_, r)) = string(p) else { return Ok(c) };
        let Ok((_, r)) = string(r) else { return Ok(c) };
        p = r;
    }
    if flags & FLAG_USERNAME != 0 {
        c.username = string(p).ok().map(|(u, _)| u);
    }
    Ok(c)
}

/// CONNACK: (session present, return/reason code), checked for the given body length.
pub fn connack(body: &[u8]) -> Result<(bool, u8), Error> {
    let flags = u8_at(body, 0).ok_or(Error::Incomplete)?;
    let code = u8_at(body, 1).ok_or(Error::Incomplete)?;
    if flags > 1 {
        return Err(Error::Invalid);
    }
    let ok = if body.len() == 2 {
        code <= 5
    } else {
        // v5: reason code and properties whose length fills the packet.
        let (n, l) = varint(body.get(2..).unwrap_or(&[]))?;
        (code == 0 || (0x80..=0x9f).contains(&code)) && 2 + l + n == body.len()
    };
    if ok {
        Ok((flags == 1, code))
    } else {
        Err(Error::Invalid)
    }
}

/// PUBLISH: (topic, packet id for QoS > 0).
pub fn publish(flags: u8, body: &[u8]) -> Result<(&[u8], Option<u16>), Error> {
    let (topic, rest) = string(body)?;
    let id = if (flags >> 1) & 3 > 0 { Some(be16(rest, 0).ok_or(Error::Incomplete)?) } else { None };
    Ok((topic, id))
}

/// SUBSCRIBE: (packet id, up to [`MAX_FILTERS`] (filter, qos)).
pub fn subscribe<'a>(version: u8, body: &'a [u8], out: &mut Vec<(&'a [u8], u8)>) -> Result<u16, Error> {
    let id = be16(body, 0).ok_or(Error::Incomplete)?;
    let mut p = body.get(2..).unwrap_or(&[]);
    if version == 5 {
        let (n, l) = varint(p)?;
        p = p.get(l + n..).ok_or(Error::Incomplete)?;
    }
    while out.len() < MAX_FILTERS && !p.is_empty() {
        let (f, r) = string(p)?;
        let opts = u8_at(r, 0).ok_or(Error::Incomplete)?;
        out.push((f, opts & 3));
        p = r.get(1..).unwrap_or(&[]);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_connect() {
        assert_eq!(varint(b"\x7f"), Ok((127, 1)));
        assert_eq!(varint(b"\x80\x01"), Ok((128, 2)));
        assert_eq!(varint(b"\xff\xff\xff\xff"), Err(Error::Invalid));
        assert_eq!(varint(b"\x80"), Err(Error::Incomplete));
        let c = connect(b"\x00\x04MQTT\x04\xc2\x00\x3c\x00\x03abc\x00\x03bob\x00\x02pw").unwrap();
        assert_eq!((c.client_id, c.username), (Some(&b"abc"[..]), Some(&b"bob"[..])));
        assert_eq!(connect(b"\x00\x04MQTT\x07\x02\x00\x3c"), Err(Error::Invalid));
        assert_eq!(connack(b"\x00\x00"), Ok((false, 0)));
        assert_eq!(connack(b"\x00\x09"), Err(Error::Invalid));
        assert_eq!(connack(b"\x01\x00\x00"), Ok((true, 0)));
    }
}
