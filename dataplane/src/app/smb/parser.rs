//! Pure parsing functions of SMB over NetBIOS session service (RFC 1002 framing, MS-SMB,
//! MS-SMB2): NBSS message headers, SMB1/SMB2 headers and the few request bodies logged.
use crate::app::bytes::{le16, le32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Incomplete,
    Invalid,
}

/// NBSS message types.
pub const NBSS_MESSAGE: u8 = 0x00;
pub const NBSS_REQUEST: u8 = 0x81;
pub const NBSS_POSITIVE: u8 = 0x82;
pub const NBSS_NEGATIVE: u8 = 0x83;
pub const NBSS_RETARGET: u8 = 0x84;
pub const NBSS_KEEPALIVE: u8 = 0x85;
pub const NBSS_HEADER: usize = 4;

pub const SMB1_MAGIC: &[u8; 4] = b"\xffSMB";
pub const SMB2_MAGIC: &[u8; 4] = b"\xfeSMB";
pub const SMB3_TRANSFORM: &[u8; 4] = b"\xfdSMB";
pub const SMB1_HEADER: usize = 32;
pub const SMB2_HEADER: usize = 64;
/// Length of an encoded NetBIOS name (RFC 1001 first-level encoding of 16 bytes).
const ENCODED_NAME: usize = 32;

/// An NBSS header: type and 17-bit length.
pub fn nbss(b: &[u8]) -> Result<(u8, usize), Error> {
    let t = u8_at(b, 0).ok_or(Error::Incomplete)?;
    let flags = u8_at(b, 1).ok_or(Error::Incomplete)?;
    let len = crate::app::bytes::be16(b, 2).ok_or(Error::Incomplete)? as usize;
    if flags & 0xfe != 0 {
        return Err(Error::Invalid);
    }
    Ok((t, ((flags as usize & 1) << 16) | len))
}

/// A session request's body starts with an encoded called name: length 32, then
/// characters 'A'..='P'.
pub fn session_request_ok(body: &[u8]) -> Result<(), Error> {
    match u8_at(body, 0) {
        None => return Err(Error::Incomplete),
        Some(0x20) => {}
        Some(_) => return Err(Error::Invalid),
    }
    for i in 1..=ENCODED_NAME {
        match u8_at(body, i) {
            None => return Err(Error::Incomplete),
            Some(b'A'..=b'P') => {}
            Some(_) => return Err(Error::Invalid),
        }
    }
    Ok(())
}

/// Which SMB a message body is, from its first 4 bytes (`None` = need more bytes).
pub fn magic(body: &[u8]) -> Result<&'static [u8; 4], Error> {
    for m in [SMB2_MAGIC, SMB1_MAGIC, SMB3_TRANSFORM] {
        match crate::app::bytes::prefix_state(body, m, false) {
            Some(true) => return Ok(m),
            None => return Err(Error::Incomplete),
            Some(false) => {}
        }
    }
    Err(Error::Invalid)
}

/// The fields of an SMB2 header an event needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smb2 {
    pub status: u32,
    pub command: u16,
    pub response: bool,
    pub next: usize,
    pub message_id: u64,
    pub tree_id: Option<u32>,
    pub session_id: u64,
}

const SMB2_FLAG_RESPONSE: u32 = 0x1;
const SMB2_FLAG_ASYNC: u32 = 0x2;

fn le64(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from(le32(b, i)?) | (u64::from(le32(b, i + 4)?) << 32))
}

/// An SMB2 header at the start of `h` (structure size 64).
pub fn smb2(h: &[u8]) -> Result<Smb2, Error> {
    if h.len() < SMB2_HEADER {
        return Err(Error::Incomplete);
    }
    let get = |o| le32(h, o).ok_or(Error::Incomplete);
    if h.get(..4) != Some(SMB2_MAGIC) || le16(h, 4) != Some(64) {
        return Err(Error::Invalid);
    }
    let flags = get(16)?;
    Ok(Smb2 {
        status: get(8)?,
        command: le16(h, 12).ok_or(Error::Incomplete)?,
        response: flags & SMB2_FLAG_RESPONSE != 0,
        next: get(20)? as usize,
        message_id: le64(h, 24).ok_or(Error::Incomplete)?,
        tree_id: if flags & SMB2_FLAG_ASYNC != 0 { None } else { Some(get(36)?) },
        session_id: le64(h, 40).ok_or(Error::Incomplete)?,
    })
}

/// The fields of an SMB1 header an event needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smb1 {
    pub command: u8,
    pub status: u32,
    pub response: bool,
    pub unicode: bool,
    pub tree_id: u16,
    pub uid: u16,
}

pub fn smb1(h: &[u8]) -> Result<Smb1, Error> {
    if h.len() < SMB1_HEADER {
        return Err(Error::Incomplete);
    }
    if h.get(..4) != Some(SMB1_MAGIC) {
        return Err(Error::Invalid);
    }
    let u8f = |o| u8_at(h, o).ok_or(Error::Incomplete);
    let flags2 = le16(h, 10).ok_or(Error::Incomplete)?;
    Ok(Smb1 {
        command: u8f(4)?,
        status: le32(h, 5).ok_or(Error::Incomplete)?,
        response: u8f(9)? & 0x80 != 0,
        unicode: flags2 & 0x8000 != 0,
        tree_id: le16(h, 24).ok_or(Error::Incomplete)?,
        uid: le16(h, 28).ok_or(Error::Incomplete)?,
    })
}

/// The UTF-16LE name at `off`/`len` (relative to the SMB2 header `h`).
fn utf16_at(h: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    h.get(off..off + len)
}

/// SMB2 TREE_CONNECT request: the share path.
pub fn smb2_tree_connect_path(h: &[u8]) -> Option<&[u8]> {
    let body = SMB2_HEADER;
    let off = le16(h, body + 4)? as usize;
    let len = le16(h, body + 6)? as usize;
    utf16_at(h, off, len)
}

/// SMB2 CREATE request: the file name and the create disposition.
pub fn smb2_create_name(h: &[u8]) -> Option<(&[u8], u32)> {
    let body = SMB2_HEADER;
    let disposition = le32(h, body + 36)?;
    let off = le16(h, body + 44)? as usize;
    let len = le16(h, body + 46)? as usize;
    Some((utf16_at(h, off, len)?, disposition))
}

/// SMB2 NEGOTIATE response: the dialect revision.
pub fn smb2_negotiate_dialect(h: &[u8]) -> Option<u16> {
    le16(h, SMB2_HEADER + 4)
}

/// An SMB1 request's parameter words and data bytes (`(words, bytes, bytes' offset)`).
fn smb1_params(h: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    let wc = u8_at(h, SMB1_HEADER)? as usize;
    let words = h.get(SMB1_HEADER + 1..SMB1_HEADER + 1 + 2 * wc)?;
    let bc_at = SMB1_HEADER + 1 + 2 * wc;
    let bc = le16(h, bc_at)? as usize;
    let bytes = h.get(bc_at + 2..(bc_at + 2 + bc).min(h.len()))?;
    Some((words, bytes, bc_at + 2))
}

/// A string in SMB1 data bytes at header offset `at`: UTF-16LE (2-aligned from the header,
/// NUL-terminated) when `unicode`, else NUL-terminated bytes. Returns the string's bytes
/// (without the terminator) and whether it is UTF-16.
fn smb1_string(h: &[u8], at: usize, unicode: bool) -> Option<&[u8]> {
    if unicode {
        let at = at + (at & 1);
        let rest = h.get(at..)?;
        let end = rest.chunks_exact(2).position(|c| c == [0, 0]).map_or(rest.len() & !1, |i| 2 * i);
        rest.get(..end)
    } else {
        let rest = h.get(at..)?;
        rest.get(..rest.iter().position(|&c| c == 0).unwrap_or(rest.len()))
    }
}

/// SMB1 TREE_CONNECT_ANDX request: the share path.
pub fn smb1_tree_connect_path(h: &[u8], unicode: bool) -> Option<&[u8]> {
    let (words, _, bytes_at) = smb1_params(h)?;
    let pwlen = le16(words, 6)? as usize;
    smb1_string(h, bytes_at + pwlen, unicode)
}

/// SMB1 NT_CREATE_ANDX request: the file name and the create disposition.
pub fn smb1_create_name(h: &[u8], unicode: bool) -> Option<(&[u8], u32)> {
    let (words, _, bytes_at) = smb1_params(h)?;
    let disposition = le32(words, 35)?;
    Some((smb1_string(h, bytes_at, unicode)?, disposition))
}

/// SMB2 NEGOTIATE request: the dialect revisions offered (little-endian u16s).
pub fn smb2_client_dialects(h: &[u8]) -> Option<&[u8]> {
    let count = le16(h, SMB2_HEADER + 2)? as usize;
    let at = SMB2_HEADER + 36;
    h.get(at..at + 2 * count)
}

/// SMB2 NEGOTIATE request: the client GUID.
pub fn smb2_client_guid(h: &[u8]) -> Option<&[u8]> {
    h.get(SMB2_HEADER + 12..SMB2_HEADER + 28)
}

/// SMB2 NEGOTIATE response: the server GUID.
pub fn smb2_server_guid(h: &[u8]) -> Option<&[u8]> {
    h.get(SMB2_HEADER + 8..SMB2_HEADER + 24)
}

/// SMB2 TREE_CONNECT response: the share type.
pub fn smb2_share_type(h: &[u8]) -> &'static str {
    match u8_at(h, SMB2_HEADER + 2) {
        Some(1) => "FILE",
        Some(2) => "PIPE",
        Some(3) => "PRINT",
        _ => "unknown",
    }
}

/// SMB1 NEGOTIATE request: the dialect strings' bytes (`0x02 name NUL` each).
pub fn smb1_client_dialects(h: &[u8]) -> Option<&[u8]> {
    smb1_params(h).map(|(_, bytes, _)| bytes)
}

/// The user, domain and host of an NTLMSSP AUTHENTICATE message found in `msg` (a
/// SESSION_SETUP request's security blob, raw or inside SPNEGO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ntlm<'a> {
    pub domain: &'a [u8],
    pub user: &'a [u8],
    pub host: &'a [u8],
    pub unicode: bool,
}

const NTLMSSP: &[u8; 8] = b"NTLMSSP\0";
const NTLM_AUTHENTICATE: u32 = 3;
const NTLM_UNICODE: u32 = 0x1;

pub fn ntlmssp_auth(msg: &[u8]) -> Option<Ntlm<'_>> {
    let at = msg.windows(NTLMSSP.len()).position(|w| w == NTLMSSP)?;
    let m = msg.get(at..)?;
    if le32(m, 8)? != NTLM_AUTHENTICATE {
        return None;
    }
    let field = |o: usize| -> Option<&[u8]> {
        let len = le16(m, o)? as usize;
        let off = le32(m, o + 4)? as usize;
        m.get(off..off.checked_add(len)?)
    };
    Some(Ntlm {
        domain: field(28)?,
        user: field(36)?,
        host: field(44)?,
        unicode: le32(m, 60).is_some_and(|f| f & NTLM_UNICODE != 0),
    })
}

pub fn smb2_command_name(c: u16) -> &'static str {
    match c {
        0 => "SMB2_COMMAND_NEGOTIATE_PROTOCOL",
        1 => "SMB2_COMMAND_SESSION_SETUP",
        2 => "SMB2_COMMAND_SESSION_LOGOFF",
        3 => "SMB2_COMMAND_TREE_CONNECT",
        4 => "SMB2_COMMAND_TREE_DISCONNECT",
        5 => "SMB2_COMMAND_CREATE",
        6 => "SMB2_COMMAND_CLOSE",
        7 => "SMB2_COMMAND_FLUSH",
        8 => "SMB2_COMMAND_READ",
        9 => "SMB2_COMMAND_WRITE",
        10 => "SMB2_COMMAND_LOCK",
        11 => "SMB2_COMMAND_IOCTL",
        12 => "SMB2_COMMAND_CANCEL",
        13 => "SMB2_COMMAND_KEEPALIVE",
        14 => "SMB2_COMMAND_FIND",
        15 => "SMB2_COMMAND_CHANGE_NOTIFY",
        16 => "SMB2_COMMAND_GET_INFO",
        17 => "SMB2_COMMAND_SET_INFO",
        18 => "SMB2_COMMAND_OPLOCK_BREAK",
        _ => "SMB2_COMMAND_UNKNOWN",
    }
}

pub fn smb1_command_name(c: u8) -> &'static str {
    match c {
        0x00 => "SMB1_COMMAND_CREATE_DIRECTORY",
        0x01 => "SMB1_COMMAND_DELETE_DIRECTORY",
        0x04 => "SMB1_COMMAND_CLOSE",
        0x06 => "SMB1_COMMAND_DELETE",
        0x07 => "SMB1_COMMAND_RENAME",
        0x08 => "SMB1_COMMAND_QUERY_INFORMATION",
        0x24 => "SMB1_COMMAND_LOCKING_ANDX",
        0x25 => "SMB1_COMMAND_TRANS",
        0x2b => "SMB1_COMMAND_ECHO",
        0x2d => "SMB1_COMMAND_OPEN_ANDX",
        0x2e => "SMB1_COMMAND_READ_ANDX",
        0x2f => "SMB1_COMMAND_WRITE_ANDX",
        0x32 => "SMB1_COMMAND_TRANS2",
        0x34 => "SMB1_COMMAND_FIND_CLOSE2",
        0x71 => "SMB1_COMMAND_TREE_DISCONNECT",
        0x72 => "SMB1_COMMAND_NEGOTIATE_PROTOCOL",
        0x73 => "SMB1_COMMAND_SESSION_SETUP_ANDX",
        0x74 => "SMB1_COMMAND_LOGOFF_ANDX",
        0x75 => "SMB1_COMMAND_TREE_CONNECT_ANDX",
        0xa0 => "SMB1_COMMAND_NT_TRANS",
        0xa2 => "SMB1_COMMAND_NT_CREATE_ANDX",
        0xa4 => "SMB1_COMMAND_NT_CANCEL",
        _ => "SMB1_COMMAND_UNKNOWN",
    }
}

pub fn status_name(s: u32) -> Option<&'static str> {
    Some(match s {
        0x0000_0000 => "STATUS_SUCCESS",
        0x0000_0103 => "STATUS_PENDING",
        0x0000_010c => "STATUS_NOTIFY_ENUM_DIR",
        0x8000_0005 => "STATUS_BUFFER_OVERFLOW",
        0x8000_0006 => "STATUS_NO_MORE_FILES",
        0x8000_002d => "STATUS_STOPPED_ON_SYMLINK",
        0xc000_0003 => "STATUS_INVALID_INFO_CLASS",
        0xc000_0004 => "STATUS_INFO_LENGTH_MISMATCH",
        0xc000_000d => "STATUS_INVALID_PARAMETER",
        0xc000_000f => "STATUS_NO_SUCH_FILE",
        0xc000_0010 => "STATUS_INVALID_DEVICE_REQUEST",
        0xc000_0011 => "STATUS_END_OF_FILE",
        0xc000_0016 => "STATUS_MORE_PROCESSING_REQUIRED",
        0xc000_0022 => "STATUS_ACCESS_DENIED",
        0xc000_0023 => "STATUS_BUFFER_TOO_SMALL",
        0xc000_0033 => "STATUS_OBJECT_NAME_INVALID",
        0xc000_0034 => "STATUS_OBJECT_NAME_NOT_FOUND",
        0xc000_0035 => "STATUS_OBJECT_NAME_COLLISION",
        0xc000_003a => "STATUS_OBJECT_PATH_NOT_FOUND",
        0xc000_0043 => "STATUS_SHARING_VIOLATION",
        0xc000_0056 => "STATUS_DELETE_PENDING",
        0xc000_006d => "STATUS_LOGON_FAILURE",
        0xc000_009a => "STATUS_INSUFFICIENT_RESOURCES",
        0xc000_00ba => "STATUS_FILE_IS_A_DIRECTORY",
        0xc000_00bb => "STATUS_NOT_SUPPORTED",
        0xc000_00c9 => "STATUS_NETWORK_NAME_DELETED",
        0xc000_00cc => "STATUS_BAD_NETWORK_NAME",
        0xc000_0101 => "STATUS_DIRECTORY_NOT_EMPTY",
        0xc000_0103 => "STATUS_NOT_A_DIRECTORY",
        0xc000_0120 => "STATUS_CANCELLED",
        0xc000_0128 => "STATUS_FILE_CLOSED",
        0xc000_0203 => "STATUS_USER_SESSION_DELETED",
        0xc000_0225 => "STATUS_NOT_FOUND",
        _ => return None,
    })
}

pub fn disposition_name(d: u32) -> &'static str {
    match d {
        0 => "FILE_SUPERSEDE",
        1 => "FILE_OPEN",
        2 => "FILE_CREATE",
        3 => "FILE_OPEN_IF",
        4 => "FILE_OVERWRITE",
        5 => "FILE_OVERWRITE_IF",
        _ => "UNKNOWN",
    }
}

/// Suricata's dialect names for SMB2 dialect revisions.
pub fn dialect_name(d: u16) -> &'static str {
    match d {
        0x0202 => "2.02",
        0x0210 => "2.10",
        0x0222 => "2.22",
        0x0224 => "2.24",
        0x02ff => "2.??",
        0x0300 => "3.00",
        0x0302 => "3.02",
        0x0310 => "3.10",
        0x0311 => "3.11",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nbss_and_magic() {
        assert_eq!(nbss(&[0, 1, 0, 4]), Ok((0, 0x10004)));
        assert_eq!(nbss(&[0, 2, 0, 4]), Err(Error::Invalid));
        assert_eq!(magic(b"\xfeS"), Err(Error::Incomplete));
        assert_eq!(magic(b"\xfeSMB@"), Ok(SMB2_MAGIC));
        assert_eq!(magic(b"GET "), Err(Error::Invalid));
        assert_eq!(session_request_ok(b" EEEFFGEC"), Err(Error::Incomplete));
        assert_eq!(session_request_ok(b" eEEF"), Err(Error::Invalid));
    }
}
