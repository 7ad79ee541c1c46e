//! Pure parsing functions of Kerberos 5 messages (RFC 4120), on the BER reader of
//! [`crate::app::snmp::ber`].
use crate::app::snmp::ber::{self, Error};

pub const AS_REQ: u8 = 10;
pub const AS_REP: u8 = 11;
pub const TGS_REQ: u8 = 12;
pub const TGS_REP: u8 = 13;
pub const AP_REQ: u8 = 14;
pub const AP_REP: u8 = 15;
pub const KRB_ERROR: u8 = 30;
const PVNO: u64 = 5;
/// GeneralString (Realm, KerberosString).
const GENERAL_STRING: u8 = 0x1b;
/// Ticket ::= [APPLICATION 1].
const TICKET: u8 = 0x61;

/// The message type of an application tag Kerberos uses for a top-level message.
fn app_type(tag: u8) -> Option<u8> {
    let n = tag & 0x1f;
    (tag & 0xe0 == 0x60 && matches!(n, AS_REQ..=AP_REP | KRB_ERROR)).then_some(n)
}

/// Checks the start of a message whose whole length is `declared`: application tag, a
/// SEQUENCE filling it, pvno 5 and a msg-type matching the tag. Returns the msg-type.
/// `Incomplete` only when `b` is shorter than `declared`.
pub fn check(b: &[u8], declared: usize) -> Result<u8, Error> {
    let cut = |e: Error| if e == Error::Incomplete && b.len() >= declared { Error::Invalid } else { e };
    let app = ber::header(b).map_err(cut)?;
    let kind = app_type(app.tag).ok_or(Error::Invalid)?;
    if app.total() != declared {
        return Err(Error::Invalid);
    }
    let seq = ber::header(b.get(app.hdr..).unwrap_or(&[])).map_err(cut)?;
    if seq.tag != ber::SEQUENCE || seq.total() != app.len {
        return Err(Error::Invalid);
    }
    // KDC-REQ numbers its fields from [1], the others from [0].
    let first = if matches!(kind, AS_REQ | TGS_REQ) { 1 } else { 0 };
    let body = b.get(app.hdr + seq.hdr..).unwrap_or(&[]);
    let (t, pvno, rest) = ber::tlv(body).map_err(cut)?;
    let (t2, mtype, _) = ber::tlv(rest).map_err(cut)?;
    if t != 0xa0 | first || t2 != 0xa0 | (first + 1) {
        return Err(Error::Invalid);
    }
    let int = |v: &[u8]| ber::expect(v, ber::INTEGER).ok().and_then(|(v, _)| ber::uint(v));
    if int(pvno) != Some(PVNO) || int(mtype) != Some(kind as u64) {
        return Err(Error::Invalid);
    }
    Ok(kind)
}

/// What Suricata logs of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info<'a> {
    pub msg_type: u8,
    /// PrincipalName's name-string SEQUENCE body.
    pub cname: Option<&'a [u8]>,
    pub realm: Option<&'a [u8]>,
    pub sname: Option<&'a [u8]>,
    pub etype: Option<i64>,
    pub ticket_etype: Option<i64>,
    pub error_code: Option<i64>,
}

fn string(v: &[u8]) -> Option<&[u8]> {
    ber::expect(v, GENERAL_STRING).ok().map(|(s, _)| s)
}

/// PrincipalName ::= SEQUENCE { name-type [0], name-string [1] SEQUENCE OF KerberosString }
fn principal(v: &[u8]) -> Option<&[u8]> {
    let (p, _) = ber::expect(v, ber::SEQUENCE).ok()?;
    ber::expect(ber::ctx(p, 1)?, ber::SEQUENCE).ok().map(|(s, _)| s)
}

/// EncryptedData ::= SEQUENCE { etype [0] Int32, ... }
fn etype(v: &[u8]) -> Option<i64> {
    let (e, _) = ber::expect(v, ber::SEQUENCE).ok()?;
    ber::int(ber::expect(ber::ctx(e, 0)?, ber::INTEGER).ok()?.0)
}

fn int(v: Option<&[u8]>) -> Option<i64> {
    ber::int(ber::expect(v?, ber::INTEGER).ok()?.0)
}

/// Parses a whole message (checked by [`check`]).
pub fn info(b: &[u8]) -> Option<Info<'_>> {
    let kind = check(b, b.len()).ok()?;
    let (_, app, _) = ber::tlv(b).ok()?;
    let (body, _) = ber::expect(app, ber::SEQUENCE).ok()?;
    let mut i = Info { msg_type: kind, ..Info::default() };
    match kind {
        AS_REQ | TGS_REQ => {
            let (req, _) = ber::expect(ber::ctx(body, 4)?, ber::SEQUENCE).ok()?;
            i.cname = ber::ctx(req, 1).and_then(principal);
            i.realm = ber::ctx(req, 2).and_then(string);
            i.sname = ber::ctx(req, 3).and_then(principal);
        }
        AS_REP | TGS_REP => {
            i.realm = ber::ctx(body, 3).and_then(string);
            i.cname = ber::ctx(body, 4).and_then(principal);
            let ticket = ber::ctx(body, 5).and_then(|t| ber::expect(t, TICKET).ok());
            let ticket = ticket.and_then(|(t, _)| ber::expect(t, ber::SEQUENCE).ok()).map(|(t, _)| t);
            i.sname = ticket.and_then(|t| ber::ctx(t, 2)).and_then(principal);
            i.ticket_etype = ticket.and_then(|t| ber::ctx(t, 3)).and_then(etype);
            i.etype = ber::ctx(body, 6).and_then(etype);
        }
        KRB_ERROR => {
            i.error_code = int(ber::ctx(body, 6));
            i.cname = ber::ctx(body, 8).and_then(principal);
            i.realm = ber::ctx(body, 9).and_then(string);
            i.sname = ber::ctx(body, 10).and_then(principal);
        }
        _ => {}
    }
    Some(i)
}

pub fn msg_type_name(t: u8) -> &'static str {
    match t {
        AS_REQ => "KRB_AS_REQ",
        AS_REP => "KRB_AS_REP",
        TGS_REQ => "KRB_TGS_REQ",
        TGS_REP => "KRB_TGS_REP",
        AP_REQ => "KRB_AP_REQ",
        AP_REP => "KRB_AP_REP",
        _ => "KRB_ERROR",
    }
}

pub fn etype_name(e: i64) -> Option<&'static str> {
    Some(match e {
        1 => "DES_CBC_CRC",
        2 => "DES_CBC_MD4",
        3 => "DES_CBC_MD5",
        5 => "DES3_CBC_MD5",
        7 => "DES3_CBC_SHA1",
        16 => "DES3_CBC_SHA1_KD",
        17 => "AES128_CTS_HMAC_SHA1_96",
        18 => "AES256_CTS_HMAC_SHA1_96",
        19 => "AES128_CTS_HMAC_SHA256_128",
        20 => "AES256_CTS_HMAC_SHA384_192",
        23 => "RC4_HMAC",
        24 => "RC4_HMAC_EXP",
        25 => "CAMELLIA128_CTS_CMAC",
        26 => "CAMELLIA256_CTS_CMAC",
        -128 => "RC4_MD4",
        -133 => "RC4_HMAC_OLD",
        -135 => "RC4_HMAC_OLD_EXP",
        _ => return None,
    })
}

/// Suricata's `weak_encryption`: anything but AES and Camellia.
pub fn weak(e: i64) -> bool {
    !matches!(e, 17..=20 | 25 | 26)
}

pub fn error_name(c: i64) -> Option<&'static str> {
    Some(match c {
        0 => "KDC_ERR_NONE",
        1 => "KDC_ERR_NAME_EXP",
        2 => "KDC_ERR_SERVICE_EXP",
        3 => "KDC_ERR_BAD_PVNO",
        4 => "KDC_ERR_C_OLD_MAST_KVNO",
        5 => "KDC_ERR_S_OLD_MAST_KVNO",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        8 => "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        9 => "KDC_ERR_NULL_KEY",
        10 => "KDC_ERR_CANNOT_POSTDATE",
        11 => "KDC_ERR_NEVER_VALID",
        12 => "KDC_ERR_POLICY",
        13 => "KDC_ERR_BADOPTION",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        15 => "KDC_ERR_SUMTYPE_NOSUPP",
        16 => "KDC_ERR_PADATA_TYPE_NOSUPP",
        17 => "KDC_ERR_TRTYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        19 => "KDC_ERR_SERVICE_REVOKED",
        20 => "KDC_ERR_TGT_REVOKED",
        21 => "KDC_ERR_CLIENT_NOTYET",
        22 => "KDC_ERR_SERVICE_NOTYET",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        26 => "KDC_ERR_SERVER_NOMATCH",
        27 => "KDC_ERR_MUST_USE_USER2USER",
        28 => "KDC_ERR_PATH_NOT_ACCEPTED",
        29 => "KDC_ERR_SVC_UNAVAILABLE",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        33 => "KRB_AP_ERR_TKT_NYV",
        34 => "KRB_AP_ERR_REPEAT",
        35 => "KRB_AP_ERR_NOT_US",
        36 => "KRB_AP_ERR_BADMATCH",
        37 => "KRB_AP_ERR_SKEW",
        38 => "KRB_AP_ERR_BADADDR",
        39 => "KRB_AP_ERR_BADVERSION",
        40 => "KRB_AP_ERR_MSG_TYPE",
        41 => "KRB_AP_ERR_MODIFIED",
        42 => "KRB_AP_ERR_BADORDER",
        44 => "KRB_AP_ERR_BADKEYVER",
        45 => "KRB_AP_ERR_NOKEY",
        46 => "KRB_AP_ERR_MUT_FAIL",
        47 => "KRB_AP_ERR_BADDIRECTION",
        48 => "KRB_AP_ERR_METHOD",
        49 => "KRB_AP_ERR_BADSEQ",
        50 => "KRB_AP_ERR_INAPP_CKSUM",
        51 => "KRB_AP_PATH_NOT_ACCEPTED",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        61 => "KRB_ERR_FIELD_TOOLONG",
        62 => "KDC_ERR_CLIENT_NOT_TRUSTED",
        63 => "KDC_ERR_KDC_NOT_TRUSTED",
        64 => "KDC_ERR_INVALID_SIG",
        65 => "KDC_ERR_KEY_TOO_WEAK",
        66 => "KDC_ERR_CERTIFICATE_MISMATCH",
        67 => "KRB_AP_ERR_NO_TGT",
        68 => "KDC_ERR_WRONG_REALM",
        69 => "KRB_AP_ERR_USER_TO_USER_REQUIRED",
        70 => "KDC_ERR_CANT_VERIFY_CERTIFICATE",
        71 => "KDC_ERR_INVALID_CERTIFICATE",
        72 => "KDC_ERR_REVOKED_CERTIFICATE",
        73 => "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
        74 => "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
        75 => "KDC_ERR_CLIENT_NAME_MISMATCH",
        76 => "KDC_ERR_KDC_NAME_MISMATCH",
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// DER-encodes one TLV (test fixtures).
    pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend_from_slice(&[0x81, n as u8]);
        } else {
            v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(content);
        v
    }

    fn int(n: u8) -> Vec<u8> {
        der(0x02, &[n])
    }

    fn principal(names: &[&str]) -> Vec<u8> {
        let strings: Vec<u8> = names.iter().flat_map(|n| der(0x1b, n.as_bytes())).collect();
        der(0x30, &[der(0xa0, &int(1)), der(0xa1, &der(0x30, &strings))].concat())
    }

    /// An AS-REQ for alice@EXAMPLE.COM to krbtgt/EXAMPLE.COM.
    pub fn as_req() -> Vec<u8> {
        let body = der(
            0x30,
            &[
                der(0xa0, &der(0x03, &[0, 0x40, 0x81, 0, 0x10])),
                der(0xa1, &principal(&["alice"])),
                der(0xa2, &der(0x1b, b"EXAMPLE.COM")),
                der(0xa3, &principal(&["krbtgt", "EXAMPLE.COM"])),
                der(0xa7, &int(42)),
                der(0xa8, &der(0x30, &[int(18), int(23)].concat())),
            ]
            .concat(),
        );
        let seq = der(0x30, &[der(0xa1, &int(5)), der(0xa2, &int(10)), der(0xa4, &body)].concat());
        der(0x6a, &seq)
    }

    /// A KRB-ERROR PREAUTH_REQUIRED answering it.
    pub fn krb_error() -> Vec<u8> {
        let seq = der(
            0x30,
            &[
                der(0xa0, &int(5)),
                der(0xa1, &int(30)),
                der(0xa4, &der(0x18, b"20240101000000Z")),
                der(0xa5, &int(1)),
                der(0xa6, &int(25)),
                der(0xa9, &der(0x1b, b"EXAMPLE.COM")),
                der(0xaa, &principal(&["krbtgt", "EXAMPLE.COM"])),
            ]
            .concat(),
        );
        der(0x7e, &seq)
    }

    #[test]
    fn check_and_info() {
        let req = as_req();
        assert_eq!(check(&req, req.len()), Ok(AS_REQ));
        assert_eq!(check(&req[..8], req.len()), Err(Error::Incomplete));
        assert_eq!(check(&req[..8], 8), Err(Error::Invalid));
        let i = info(&req).unwrap();
        assert_eq!(i.realm, Some(&b"EXAMPLE.COM"[..]));
        assert!(i.cname.is_some() && i.sname.is_some());
        let err = krb_error();
        assert_eq!(info(&err).unwrap().error_code, Some(25));
        // msg-type inconsistent with the tag.
        let mut bad = req;
        let at = bad.windows(5).position(|w| w == [0xa2, 3, 2, 1, 10]).unwrap();
        bad[at + 4] = 12;
        assert_eq!(check(&bad, bad.len()), Err(Error::Invalid));
    }
}
