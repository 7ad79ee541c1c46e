//! Pure MySQL wire parsing: packet headers, the server greeting (HandshakeV10), the
//! client's HandshakeResponse41 / SSLRequest, and command names.
use crate::app::bytes::{le16, le32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not this protocol.
    Invalid,
}

/// Packet header: 3-byte little-endian payload length and a sequence number.
pub const HEADER: usize = 4;
/// Longest server version string accepted.
pub const MAX_VERSION: usize = 64;
/// Longest greeting accepted.
pub const MAX_GREETING: usize = 1024;
/// Length of HandshakeResponse41's fixed part (also the whole SSLRequest).
pub const RESPONSE_FIXED: usize = 32;

pub const CLIENT_CONNECT_WITH_DB: u32 = 0x0000_0008;
pub const CLIENT_COMPRESS: u32 = 0x0000_0020;
pub const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
pub const CLIENT_SSL: u32 = 0x0000_0800;
pub const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
pub const CLIENT_PLUGIN_AUTH_LENENC: u32 = 0x0020_0000;

/// (payload length, sequence number).
pub fn header(b: &[u8]) -> Result<(usize, u8), Error> {
    let (Some(l0), Some(l1), Some(l2), Some(seq)) = (u8_at(b, 0), u8_at(b, 1), u8_at(b, 2), u8_at(b, 3)) else {
        return Err(Error::Incomplete);
    };
    Ok((usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16, seq))
}

/// A NUL-terminated string at the start of `b` and the bytes after its NUL.
pub fn cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.iter().position(|&c| c == 0)?;
    Some((b.get(..end)?, b.get(end + 1..)?))
}

/// The server version of a HandshakeV10 payload (protocol byte 10 first). Checks the
/// version text, the filler byte and, when present, the 10 reserved zero bytes.
pub fn greeting(p: &[u8]) -> Result<&[u8], Error> {
    match u8_at(p, 0) {
        None => return Err(Error::Incomplete),
        Some(10) => {}
        Some(_) => return Err(Error::Invalid),
    }
    let rest = p.get(1..).unwrap_or(&[]);
    let Some((version, after)) = cstr(rest) else {
        let head = rest.get(..rest.len().min(MAX_VERSION)).unwrap_or(&[]);
        return if rest.len() < MAX_VERSION && head.iter().all(|c| c.is_ascii_graphic()) {
            Err(Error::Incomplete)
        } else {
            Err(Error::Invalid)
        };
    };
    if version.is_empty()
        || version.len() > MAX_VERSION
        || !version.first().is_some_and(u8::is_ascii_digit)
        || !version.iter().all(|c| c.is_ascii_graphic())
    {
        return Err(Error::Invalid);
    }
    // thread id (4), auth data part 1 (8), filler (1) = 0, capabilities low (2).
    match u8_at(after, 12) {
        None => return Err(Error::Incomplete),
        Some(0) => {}
        Some(_) => return Err(Error::Invalid),
    }
    let caps = le16(after, 13).ok_or(Error::Incomplete)?;
    if u32::from(caps) & CLIENT_PROTOCOL_41 == 0 {
        return Ok(version); // pre-4.1 servers end here
    }
    // charset (1), status (2), capabilities high (2), auth data length (1), reserved (10,
    // of which MariaDB uses the last 4 for its extended capabilities).
    match after.get(21..27) {
        Some(r) if r.iter().all(|&c| c == 0) => Ok(version),
        Some(_) => Err(Error::Invalid),
        None if after.len() >= 21 || p.len() < MAX_GREETING => Err(Error::Incomplete),
        None => Err(Error::Invalid),
    }
}

/// The client's HandshakeResponse41 fixed part: its capability flags. Checks
/// CLIENT_PROTOCOL_41 and the 23 filler bytes (zero, but for MariaDB's extended
/// capabilities in the last 4).
pub fn response_caps(p: &[u8]) -> Result<u32, Error> {
    let caps = le32(p, 0).ok_or(Error::Incomplete)?;
    if caps & CLIENT_PROTOCOL_41 == 0 {
        return Err(Error::Invalid);
    }
    let filler = p.get(9..RESPONSE_FIXED - 4).ok_or(Error::Incomplete)?;
    if !filler.iter().all(|&c| c == 0) {
        return Err(Error::Invalid);
    }
    if p.len() < RESPONSE_FIXED {
        Err(Error::Incomplete)
    } else {
        Ok(caps)
    }
}

/// User and database of a whole HandshakeResponse41 payload.
pub fn response_user_db(p: &[u8], caps: u32) -> (Option<&[u8]>, Option<&[u8]>) {
    let Some((user, rest)) = p.get(RESPONSE_FIXED..).and_then(cstr) else { return (None, None) };
    let rest = if caps & CLIENT_PLUGIN_AUTH_LENENC != 0 {
        // A length-encoded integer: one byte below 0xfb, 0xfc + 2 bytes (longer is absurd).
        match u8_at(rest, 0) {
            Some(n @ 0..=0xfa) => rest.get(1 + usize::from(n)..),
            Some(0xfc) => le16(rest, 1).and_then(|n| rest.get(3 + usize::from(n)..)),
            _ => None,
        }
    } else if caps & CLIENT_SECURE_CONNECTION != 0 {
        u8_at(rest, 0).and_then(|n| rest.get(1 + usize::from(n)..))
    } else {
        cstr(rest).map(|(_, r)| r)
    };
    let db = rest.filter(|_| caps & CLIENT_CONNECT_WITH_DB != 0).and_then(|r| cstr(r).map(|(d, _)| d));
    (Some(user), db.filter(|d| !d.is_empty()))
}

/// COM_* names (as MySQL's documentation spells them, lower case without `COM_`).
pub fn command_name(c: u8) -> &'static str {
    const NAMES: [&str; 32] = [
        "sleep",
        "quit",
        "init_db",
        "query",
        "field_list",
        "create_db",
        "drop_db",
        "refresh",
        "shutdown",
        "statistics",
        "process_info",
        "connect",
        "process_kill",
        "debug",
        "ping",
        "time",
        "delayed_insert",
        "change_user",
        "binlog_dump",
        "table_dump",
        "connect_out",
        "register_slave",
        "stmt_prepare",
        "stmt_execute",
        "stmt_send_long_data",
        "stmt_close",
        "stmt_reset",
        "set_option",
        "stmt_fetch",
        "daemon",
        "binlog_dump_gtid",
        "reset_connection",
    ];
    NAMES.get(usize::from(c)).copied().unwrap_or("unknown")
}

/// Commands whose argument is text worth logging.
pub fn has_text_arg(c: u8) -> bool {
    matches!(c, 0x02 | 0x03 | 0x04 | 0x05 | 0x06 | 0x16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_strings() {
        assert_eq!(header(b"\x05\x00\x00\x01"), Ok((5, 1)));
        assert_eq!(header(b"\x05\x00"), Err(Error::Incomplete));
        assert_eq!(cstr(b"root\0x"), Some((&b"root"[..], &b"x"[..])));
        assert_eq!(command_name(3), "query");
        assert_eq!(command_name(200), "unknown");
        assert_eq!(greeting(b"\x0a5.7"), Err(Error::Incomplete));
        assert_eq!(greeting(b"\x0aabc\0"), Err(Error::Invalid));
    }
}
