//! Pure parsing functions of LDAPv3 messages (RFC 4511) on the BER reader of
//! [`crate::app::snmp::ber`].
use crate::app::snmp::ber::{self, Error, INTEGER, OCTET_STRING, SEQUENCE};

/// ENUMERATED (resultCode, scope).
const ENUMERATED: u8 = 0x0a;
const BOOLEAN: u8 = 0x01;
/// Longest messageID (INTEGER (0 .. 2^31-1)).
const MAX_ID_LEN: usize = 4;

/// The protocolOp tags: (tag, name). Primitive ones: unbind (NULL), del (LDAPDN), abandon.
const OPS: &[(u8, &str)] = &[
    (0x60, "bind_request"),
    (0x61, "bind_response"),
    (0x42, "unbind_request"),
    (0x63, "search_request"),
    (0x64, "search_result_entry"),
    (0x65, "search_result_done"),
    (0x66, "modify_request"),
    (0x67, "modify_response"),
    (0x68, "add_request"),
    (0x69, "add_response"),
    (0x4a, "del_request"),
    (0x6b, "del_response"),
    (0x6c, "mod_dn_request"),
    (0x6d, "mod_dn_response"),
    (0x6e, "compare_request"),
    (0x6f, "compare_response"),
    (0x50, "abandon_request"),
    (0x73, "search_result_reference"),
    (0x77, "extended_request"),
    (0x78, "extended_response"),
    (0x79, "intermediate_response"),
];

pub const BIND_REQUEST: u8 = 0x60;
pub const SEARCH_REQUEST: u8 = 0x63;
pub const SEARCH_RESULT_ENTRY: u8 = 0x64;
pub const EXTENDED_REQUEST: u8 = 0x77;
/// Operations whose body is an LDAPResult (resultCode first).
pub fn is_result(tag: u8) -> bool {
    matches!(tag, 0x61 | 0x65 | 0x67 | 0x69 | 0x6b | 0x6d | 0x6f | 0x78)
}

pub fn op_name(tag: u8) -> Option<&'static str> {
    OPS.iter().find(|(t, _)| *t == tag).map(|(_, n)| *n)
}

/// Checks the start of an LDAPMessage (`b` may be a prefix of it): SEQUENCE, messageID,
/// a protocolOp tag LDAP defines whose first field fits its operation; when the whole
/// message is there, the operation (and optional controls) must fill it exactly. Returns
/// the message's total length and the operation's tag.
pub fn check(b: &[u8]) -> Result<(usize, u8), Error> {
    let seq = ber::header(b)?;
    if seq.tag != SEQUENCE {
        return Err(Error::Invalid);
    }
    let body = b.get(seq.hdr..).unwrap_or(&[]);
    let id = ber::header(body)?;
    if id.tag != INTEGER || id.len == 0 || id.len > MAX_ID_LEN {
        return Err(Error::Invalid);
    }
    let idv = body.get(id.hdr..id.total()).ok_or(Error::Incomplete)?;
    if idv.first().is_some_and(|&c| c & 0x80 != 0) {
        return Err(Error::Invalid);
    }
    let rest = body.get(id.total()..).unwrap_or(&[]);
    let op = ber::header(rest)?;
    op_name(op.tag).ok_or(Error::Invalid)?;
    if id.total() + op.total() > seq.len {
        return Err(Error::Invalid);
    }
    // The operation's first field.
    let inner = rest.get(op.hdr..).unwrap_or(&[]);
    let first = if op.len == 0 { None } else { Some(ber::header(inner)?) };
    let ok = match op.tag {
        BIND_REQUEST => {
            first.is_some_and(|f| f.tag == INTEGER && f.len == 1) && {
                matches!(inner.get(first.map_or(0, |f| f.hdr)), None | Some(1..=3))
            }
        }
        SEARCH_REQUEST | SEARCH_RESULT_ENTRY | 0x66 | 0x68 | 0x6c | 0x6e => {
            first.is_some_and(|f| f.tag == OCTET_STRING)
        }
        0x42 => op.len == 0,
        0x50 => (1..=MAX_ID_LEN).contains(&op.len),
        t if is_result(t) => first.is_some_and(|f| f.tag == ENUMERATED && f.len == 1),
        EXTENDED_REQUEST => first.is_some_and(|f| f.tag == 0x80),
        _ => true,
    };
    if !ok {
        return Err(Error::Invalid);
    }
    // Whole message: the operation, then optional controls [0], fill the SEQUENCE.
    if b.len() >= seq.total() {
        let after = id.total() + op.total();
        if after != seq.len {
            let ctl = body.get(after..seq.len).map(ber::header);
            if !matches!(ctl, Some(Ok(h)) if h.tag == 0xa0 && after + h.total() == seq.len) {
                return Err(Error::Invalid);
            }
        }
    }
    Ok((seq.total(), op.tag))
}

/// What an event needs of one whole message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Message<'a> {
    pub id: u64,
    pub op: u8,
    /// The operation's first OCTET STRING (bind name, base object, entry, dn).
    pub dn: Option<&'a [u8]>,
    pub version: Option<u64>,
    /// Bind: "simple" or "sasl".
    pub auth: Option<&'static str>,
    pub scope: Option<u64>,
    pub deref: Option<u64>,
    pub size_limit: Option<u64>,
    pub time_limit: Option<u64>,
    pub types_only: Option<bool>,
    pub result_code: Option<u64>,
    pub matched_dn: Option<&'a [u8]>,
    pub message: Option<&'a [u8]>,
    pub request_name: Option<&'a [u8]>,
}

fn uint(v: &[u8], tag: u8) -> Option<(u64, &[u8])> {
    ber::expect(v, tag).ok().and_then(|(x, r)| Some((ber::uint(x)?, r)))
}

fn string(v: &[u8]) -> Option<(&[u8], &[u8])> {
    ber::expect(v, OCTET_STRING).ok()
}

/// Parses one whole message (checked by [`check`]).
pub fn message(b: &[u8]) -> Option<Message<'_>> {
    let (_, op) = check(b).ok()?;
    let (body, _) = ber::expect(b, SEQUENCE).ok()?;
    let (id, rest) = ber::expect(body, INTEGER).ok()?;
    let (tag, v, _) = ber::tlv(rest).ok()?;
    let mut m = Message { id: ber::uint(id)?, op: tag, ..Message::default() };
    match op {
        BIND_REQUEST => {
            let (version, r) = uint(v, INTEGER)?;
            m.version = Some(version);
            let (name, r) = string(r)?;
            m.dn = Some(name);
            m.auth = match r.first() {
                Some(0x80) => Some("simple"),
                Some(0xa3) => Some("sasl"),
                _ => None,
            };
        }
        SEARCH_REQUEST => {
            let (base, r) = string(v)?;
            m.dn = Some(base);
            let (scope, r) = uint(r, ENUMERATED)?;
            let (deref, r) = uint(r, ENUMERATED)?;
            let (size, r) = uint(r, INTEGER)?;
            let (time, r) = uint(r, INTEGER)?;
            let (types_only, _) = ber::expect(r, BOOLEAN).ok()?;
            (m.scope, m.deref, m.size_limit, m.time_limit) = (Some(scope), Some(deref), Some(size), Some(time));
            m.types_only = Some(types_only.first().is_some_and(|&c| c != 0));
        }
        EXTENDED_REQUEST => m.request_name = ber::expect(v, 0x80).ok().map(|(n, _)| n),
        0x4a => m.dn = Some(v),
        t if is_result(t) => {
            let (code, r) = uint(v, ENUMERATED)?;
            m.result_code = Some(code);
            let (matched, r) = string(r)?;
            m.matched_dn = Some(matched);
            m.message = string(r).map(|(s, _)| s);
        }
        SEARCH_RESULT_ENTRY | 0x66 | 0x68 | 0x6c | 0x6e => m.dn = string(v).map(|(s, _)| s),
        _ => {}
    }
    Some(m)
}

pub fn result_name(c: u64) -> Option<&'static str> {
    Some(match c {
        0 => "success",
        1 => "operations_error",
        2 => "protocol_error",
        3 => "time_limit_exceeded",
        4 => "size_limit_exceeded",
        5 => "compare_false",
        6 => "compare_true",
        7 => "auth_method_not_supported",
        8 => "stronger_auth_required",
        10 => "referral",
        11 => "admin_limit_exceeded",
        12 => "unavailable_critical_extension",
        13 => "confidentiality_required",
        14 => "sasl_bind_in_progress",
        16 => "no_such_attribute",
        17 => "undefined_attribute_type",
        18 => "inappropriate_matching",
        19 => "constraint_violation",
        20 => "attribute_or_value_exists",
        21 => "invalid_attribute_syntax",
        32 => "no_such_object",
        33 => "alias_problem",
        34 => "invalid_dns_syntax",
        36 => "alias_dereferencing_problem",
        48 => "inappropriate_authentication",
        49 => "invalid_credentials",
        50 => "insufficient_access_rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling_to_perform",
        54 => "loop_detect",
        64 => "naming_violation",
        65 => "object_class_violation",
        66 => "not_allowed_on_non_leaf",
        67 => "not_allowed_on_rdn",
        68 => "entry_already_exists",
        69 => "object_class_mods_prohibited",
        71 => "affects_multiple_dsas",
        80 => "other",
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::app::krb5::parser::tests::der;

    pub fn ldap(id: u8, op: Vec<u8>) -> Vec<u8> {
        der(0x30, &[der(0x02, &[id]), op].concat())
    }

    pub fn bind_request() -> Vec<u8> {
        let op = der(0x60, &[der(0x02, &[3]), der(0x04, b"cn=admin,dc=example,dc=com"), der(0x80, b"secret")].concat());
        ldap(1, op)
    }

    pub fn bind_response() -> Vec<u8> {
        ldap(1, der(0x61, &[der(0x0a, &[0]), der(0x04, b""), der(0x04, b"")].concat()))
    }

    pub fn search_request() -> Vec<u8> {
        let op = der(
            0x63,
            &[
                der(0x04, b"dc=example,dc=com"),
                der(0x0a, &[2]),
                der(0x0a, &[0]),
                der(0x02, &[0]),
                der(0x02, &[0]),
                der(0x01, &[0]),
                der(0x87, b"objectClass"),
                der(0x30, &[]),
            ]
            .concat(),
        );
        ldap(2, op)
    }

    #[test]
    fn check_and_parse() {
        let b = bind_request();
        assert_eq!(check(&b), Ok((b.len(), BIND_REQUEST)));
        assert_eq!(check(&b[..4]), Err(Error::Incomplete));
        assert_eq!(check(&b[..8]), Err(Error::Incomplete));
        assert_eq!(check(&b[..10]), Ok((b.len(), BIND_REQUEST)));
        let m = message(&b).unwrap();
        assert_eq!((m.id, m.version, m.auth), (1, Some(3), Some("simple")));
        let sr = search_request();
        let s = message(&sr).unwrap();
        assert_eq!((s.scope, s.dn), (Some(2), Some(&b"dc=example,dc=com"[..])));
        assert_eq!(message(&bind_response()).unwrap().result_code, Some(0));
        // Trailing bytes inside the SEQUENCE that are not controls.
        let mut bad = bind_response();
        bad[1] += 2;
        bad.extend_from_slice(&[0x04, 0]);
        assert_eq!(check(&bad), Err(Error::Invalid));
        // Unknown operation tag.
        assert_eq!(check(&ldap(1, der(0x70, &[]))), Err(Error::Invalid));
    }
}
