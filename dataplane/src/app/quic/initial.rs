//! Reading the TLS ClientHello of a client's Initial packet (RFC 9001 5: keys derived from
//! the Destination Connection ID with a version's public salt, header protection with
//! AES-128-ECB, payload with AES-128-GCM), for QUIC v1, v2 and drafts 29 to 34.
//!
//! Stateless per datagram: only the CRYPTO frames of this datagram's first packet are
//! reassembled (in a fixed stack buffer), which holds the whole hello for nearly every
//! client; a hello split across datagrams yields what its first part holds. Nothing
//! allocates; every size is bounded by the constants below.
use super::parser::{self, varint, VERSION_2};
use aes_gcm::aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInPlace, Aes128Gcm};
use hkdf::Hkdf;
use sha2::Sha256;

/// Largest Initial packet decrypted (header included).
pub const MAX_PACKET: usize = 2048;
/// Bytes of the CRYPTO stream reassembled (from offset 0).
pub const MAX_CRYPTO: usize = 2048;
/// CRYPTO frames tracked per packet.
pub const MAX_FRAMES: usize = 32;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e,
    0xd9,
];
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8,
    0x99,
];

/// A client's Initial keys.
#[derive(Debug, PartialEq, Eq)]
pub struct Keys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) -> Option<()> {
    let mut info = [0u8; 64];
    let full = 6 + label.len();
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let parts: [&[u8]; 5] = [&len, &[u8::try_from(full).ok()?], b"tls13 ", label, &[0]];
    let mut n = 0;
    for p in parts {
        info.get_mut(n..n + p.len())?.copy_from_slice(p);
        n += p.len();
    }
    hk.expand(info.get(..n)?, out).ok()
}

/// The client's Initial keys for `version` and the packet's Destination Connection ID.
pub fn client_keys(version: u32, dcid: &[u8]) -> Option<Keys> {
    let (salt, v2) = match version {
        parser::VERSION_1 => (&SALT_V1, false),
        VERSION_2 => (&SALT_V2, true),
        0xff00_001d..=0xff00_0020 => (&SALT_DRAFT29, false),
        0xff00_0021..=0xff00_0022 => (&SALT_V1, false),
        _ => return None,
    };
    let initial = Hkdf::<Sha256>::new(Some(salt), dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, b"client in", &mut secret)?;
    let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let mut keys = Keys { key: [0; 16], iv: [0; 12], hp: [0; 16] };
    let (lk, li, lh): (&[u8], &[u8], &[u8]) =
        if v2 { (b"quicv2 key", b"quicv2 iv", b"quicv2 hp") } else { (b"quic key", b"quic iv", b"quic hp") };
    expand_label(&hk, lk, &mut keys.key)?;
    expand_label(&hk, li, &mut keys.iv)?;
    expand_label(&hk, lh, &mut keys.hp)?;
    Some(keys)
}

/// The CRYPTO stream of a client Initial, reassembled from offset 0 into `crypto`: the
/// number of contiguous bytes, or `None` when the packet is not a client Initial this
/// parser can decrypt.
pub fn crypto_stream(b: &[u8], crypto: &mut [u8; MAX_CRYPTO]) -> Option<usize> {
    let first = *b.first()?;
    let version = crate::app::bytes::be32(b, 1)?;
    let dcil = *b.get(5)? as usize;
    let dcid = b.get(6..6 + dcil)?;
    let scil = *b.get(6 + dcil)? as usize;
    let mut off = 7 + dcil + scil;
    let (token, n) = varint(b, off)?;
    off = off.checked_add(n)?.checked_add(usize::try_from(token).ok()?)?;
    let (len, n) = varint(b, off)?;
    let pn_off = off + n;
    let len = usize::try_from(len).ok()?;
    let packet = b.get(..pn_off.checked_add(len)?)?;
    if packet.len() > MAX_PACKET || len < 20 {
        return None;
    }
    let keys = client_keys(version, dcid)?;

    // Work on a copy: the header is unmasked in place and is the AEAD's associated data.
    let mut buf = [0u8; MAX_PACKET];
    let pkt = buf.get_mut(..packet.len())?;
    pkt.copy_from_slice(packet);

    // Header protection: the sample starts 4 bytes after the packet number's start.
    let sample: [u8; 16] = pkt.get(pn_off + 4..pn_off + 20)?.try_into().ok()?;
    let mut mask = sample.into();
    Aes128::new(&keys.hp.into()).encrypt_block(&mut mask);
    let first = first ^ (mask.first()? & 0x0f);
    *pkt.first_mut()? = first;
    let pn_len = usize::from(first & 0x03) + 1;
    let mut pn = 0u64;
    for (b, m) in pkt.get_mut(pn_off..pn_off + pn_len)?.iter_mut().zip(mask.iter().skip(1)) {
        *b ^= m;
        pn = (pn << 8) | u64::from(*b);
    }

    // Payload: AES-128-GCM with nonce = iv XOR packet number.
    let (header, body) = pkt.split_at_mut(pn_off + pn_len);
    let ct_len = body.len().checked_sub(16)?;
    let (plain, tag) = body.split_at_mut(ct_len);
    let tag: [u8; 16] = (&*tag).try_into().ok()?;
    let mut nonce = keys.iv;
    for (n, p) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    Aes128Gcm::new(&keys.key.into()).decrypt_in_place_detached(&nonce.into(), header, plain, &tag.into()).ok()?;
    Some(reassemble(plain, crypto))
}

/// Copies the CRYPTO frames of a decrypted Initial payload into `crypto`; returns the
/// length of the contiguous prefix.
fn reassemble(p: &[u8], crypto: &mut [u8; MAX_CRYPTO]) -> usize {
    let mut ranges = [(0usize, 0usize); MAX_FRAMES];
    let mut nr = 0;
    let mut off = 0;
    while let Some(&t) = p.get(off) {
        off += 1;
        match t {
            0x00 | 0x01 => {} // PADDING, PING
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, [ECN counts].
                let mut fields = |k: usize| -> Option<u64> {
                    let mut last = 0;
                    for _ in 0..k {
                        let (v, n) = varint(p, off)?;
                        off += n;
                        last = v;
                    }
                    Some(last)
                };
                let Some(count) = fields(3) else { break };
                if fields(1).is_none() {
                    break;
                }
                let pairs = usize::try_from(count).unwrap_or(usize::MAX).min(p.len());
                if fields(pairs.saturating_mul(2)).is_none() {
                    break;
                }
                if t == 0x03 && fields(3).is_none() {
                    break;
                }
            }
            0x06 => {
                let Some((o, n1)) = varint(p, off) else { break };
                let Some((l, n2)) = varint(p, off + n1) else { break };
                let start = off + n1 + n2;
                let (o, l) = (usize::try_from(o).unwrap_or(usize::MAX), usize::try_from(l).unwrap_or(usize::MAX));
                let Some(data) = p.get(start..start.saturating_add(l)) else { break };
                off = start + l;
                let end = o.saturating_add(l).min(MAX_CRYPTO);
                if o < end {
                    if let (Some(dst), Some(src)) = (crypto.get_mut(o..end), data.get(..end - o)) {
                        dst.copy_from_slice(src);
                        if let Some(r) = ranges.get_mut(nr) {
                            *r = (o, end);
                            nr += 1;
                        }
                    }
                }
            }
            _ => break, // CONNECTION_CLOSE or anything unexpected: stop
        }
    }
    // The contiguous prefix: at most one pass per range.
    let mut have = 0;
    for _ in 0..nr {
        match ranges.iter().take(nr).filter(|(s, e)| *s <= have && *e > have).map(|(_, e)| *e).max() {
            Some(e) => have = e,
            None => break,
        }
    }
    have
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc9001_appendix_a_keys() {
        let k = client_keys(1, &h("8394c8f03e515708")).unwrap();
        assert_eq!(k.key.to_vec(), h("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), h("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), h("9f50449e04a0e810283a1e9933adedd2"));
        let k = client_keys(VERSION_2, &h("8394c8f03e515708")).unwrap();
        assert_eq!(k.key.to_vec(), h("8b1a0bc121284290a29e0971b5cd045d"));
    }

    #[test]
    fn crypto_frames_out_of_order() {
        let mut c = [0u8; MAX_CRYPTO];
        // CRYPTO(off 3, "def"), PADDING, CRYPTO(off 0, "abc"), PING.
        let p = b"\x06\x03\x03def\x00\x00\x06\x00\x03abc\x01";
        assert_eq!(reassemble(p, &mut c), 6);
        assert_eq!(&c[..6], b"abcdef");
        assert_eq!(reassemble(b"\x06\x05\x03xyz", &mut c), 0);
    }
}
