//! TLS fingerprints: JA3 and JA3S (Salesforce: decimal fields, GREASE removed, MD5) and
//! JA4 (FoxIO: `t13d1516h2_<ciphers>_<extensions_sigalgs>`, SHA-256 truncated to 12 hex
//! digits). Computed once per hello; the strings are bounded by the hello's size.
use super::parser::{
    self, ClientHello, Extensions, ServerHello, EXT_ALPN, EXT_EC_POINT_FORMATS, EXT_SIGNATURE_ALGORITHMS, EXT_SNI,
    EXT_SUPPORTED_GROUPS, EXT_SUPPORTED_VERSIONS,
};
use md5::{Digest, Md5};
use sha2::Sha256;
use std::fmt::Write;

/// Values kept per list for JA4's sort: as many as a hello kept whole can hold.
const MAX_SORTED: usize = super::HS_KEEP / 2;

/// Lower-case hex of a digest.
fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

pub fn md5_hex(s: &str) -> String {
    let mut h = String::with_capacity(32);
    hex(&mut h, &Md5::digest(s.as_bytes()));
    h
}

fn join_dec(out: &mut String, vals: impl Iterator<Item = u16>) {
    for (i, v) in vals.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
}

/// JA3's string: `version,ciphers,extensions,groups,point_formats`.
pub fn ja3(ch: &ClientHello<'_>) -> String {
    let no_grease = |v: &u16| !parser::is_grease(*v);
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", ch.version);
    join_dec(&mut s, parser::u16s(ch.ciphers).filter(no_grease));
    s.push(',');
    join_dec(&mut s, Extensions(ch.exts).map(|(t, _)| t).filter(no_grease));
    s.push(',');
    let groups = parser::ext(ch.exts, EXT_SUPPORTED_GROUPS).map(parser::list16).unwrap_or(&[]);
    join_dec(&mut s, parser::u16s(groups).filter(no_grease));
    s.push(',');
    let formats = parser::ext(ch.exts, EXT_EC_POINT_FORMATS).map(parser::list8).unwrap_or(&[]);
    join_dec(&mut s, formats.iter().map(|&v| u16::from(v)));
    s
}

/// JA3S's string: `version,cipher,extensions`.
pub fn ja3s(sh: &ServerHello<'_>) -> String {
    let mut s = String::with_capacity(64);
    let _ = write!(s, "{},{},", sh.version, sh.cipher);
    join_dec(&mut s, Extensions(sh.exts).map(|(t, _)| t).filter(|v| !parser::is_grease(*v)));
    s
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The first 12 hex digits of SHA-256 of `values` as 4-digit hex joined by ',' (and, when
/// `tail` is not empty, '_' and `tail` joined the same way); "000000000000" when empty.
fn ja4_hash(out: &mut String, values: &[u16], tail: &[u16]) {
    if values.is_empty() {
        out.push_str("000000000000");
        return;
    }
    let mut s = String::with_capacity(values.len() * 5 + tail.len() * 5 + 1);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    if !tail.is_empty() {
        s.push('_');
        for (i, v) in tail.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{v:04x}");
        }
    }
    let digest = Sha256::digest(s.as_bytes());
    hex(out, digest.get(..6).unwrap_or(&[]));
}

/// JA4 of a ClientHello (`quic`: carried by QUIC rather than TCP).
pub fn ja4(ch: &ClientHello<'_>, quic: bool) -> String {
    let no_grease = |v: &u16| !parser::is_grease(*v);
    let mut s = String::with_capacity(40);
    s.push(if quic { 'q' } else { 't' });
    let best = parser::ext(ch.exts, EXT_SUPPORTED_VERSIONS)
        .and_then(|b| parser::u16s(parser::list8(b)).filter(no_grease).max())
        .unwrap_or(ch.version);
    s.push_str(ja4_version(best));
    s.push(if parser::ext(ch.exts, EXT_SNI).is_some() { 'd' } else { 'i' });

    let mut ciphers: Vec<u16> = parser::u16s(ch.ciphers).filter(no_grease).take(MAX_SORTED).collect();
    let exts_all = Extensions(ch.exts).map(|(t, _)| t).filter(no_grease);
    let n_exts = exts_all.clone().count();
    let _ = write!(s, "{:02}{:02}", ciphers.len().min(99), n_exts.min(99));

    let first_alpn = parser::ext(ch.exts, EXT_ALPN).and_then(|b| parser::alpns(b).next());
    match first_alpn.map(|a| (a.first().copied(), a.last().copied())) {
        Some((Some(f), Some(l))) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            s.push(char::from(f));
            s.push(char::from(l));
        }
        Some((Some(f), Some(l))) => {
            let _ = write!(s, "{:x}{:x}", f >> 4, l & 0x0f);
        }
        _ => s.push_str("00"),
    }
    s.push('_');
    ciphers.sort_unstable();
    ja4_hash(&mut s, &ciphers, &[]);
    s.push('_');
    let mut exts: Vec<u16> = exts_all.filter(|t| *t != EXT_SNI && *t != EXT_ALPN).take(MAX_SORTED).collect();
    exts.sort_unstable();
    let sigs: Vec<u16> = parser::ext(ch.exts, EXT_SIGNATURE_ALGORITHMS)
        .map(|b| parser::u16s(parser::list16(b)).filter(no_grease).take(MAX_SORTED).collect())
        .unwrap_or_default();
    ja4_hash(&mut s, &exts, &sigs);
    s
}
