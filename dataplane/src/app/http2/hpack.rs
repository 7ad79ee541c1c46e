//! A bounded HPACK (RFC 7541) decoder: static table, Huffman strings, dynamic table.
//!
//! One decoder per direction. The dynamic table holds at most [`MAX_TABLE`] bytes (RFC
//! size: 32 + name + value per entry) whatever the encoder announces: entries the encoder
//! still has beyond that bound are forgotten, so lookups of them fail softly (the field is
//! skipped) while newer entries keep their indices. Strings are decoded into two reused
//! buffers of at most [`MAX_STRING`] bytes; a block yields at most [`MAX_FIELDS`] fields.
//! Any malformed block is an error: the caller stops decoding that direction (the table
//! state is unknown after it).
use std::collections::VecDeque;

/// Bound of the dynamic table (RFC size units), whatever SETTINGS_HEADER_TABLE_SIZE says.
pub const MAX_TABLE: usize = 4096;
/// Longest decoded name or value.
pub const MAX_STRING: usize = 8192;
/// Fields decoded per header block.
pub const MAX_FIELDS: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Truncated or malformed representation.
    Malformed,
    /// A string over [`MAX_STRING`] or too many fields.
    TooLarge,
}

/// RFC 7541 Appendix A.
const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Code length of each symbol (RFC 7541 Appendix B; 256 is EOS). The code is canonical:
/// codes of one length are consecutive, in symbol order, after the shorter ones.
const HUFFMAN_LENS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];
const MAX_CODE_LEN: usize = 30;
const EOS: u16 = 256;

/// The canonical decoding tables: symbols in code order, and per length the first code,
/// the number of codes and the index of the first symbol in `symbols`.
struct Canonical {
    symbols: [u16; 257],
    first: [u32; MAX_CODE_LEN + 1],
    count: [u16; MAX_CODE_LEN + 1],
    index: [u16; MAX_CODE_LEN + 1],
}

/// Evaluated at compile time only (its indexing cannot fail at run time).
const fn canonical() -> Canonical {
    let mut c = Canonical {
        symbols: [0; 257],
        first: [0; MAX_CODE_LEN + 1],
        count: [0; MAX_CODE_LEN + 1],
        index: [0; MAX_CODE_LEN + 1],
    };
    let mut n = 0;
    let mut len = 1;
    let mut code: u32 = 0;
    while len <= MAX_CODE_LEN {
        c.first[len] = code;
        c.index[len] = n as u16;
        let mut s = 0;
        while s < 257 {
            if HUFFMAN_LENS[s] as usize == len {
                c.symbols[n] = s as u16;
                n += 1;
                c.count[len] += 1;
            }
            s += 1;
        }
        code = (code + c.count[len] as u32) << 1;
        len += 1;
    }
    c
}

static HUFFMAN: Canonical = canonical();

/// Appends the Huffman decoding of `src` to `out` (at most [`MAX_STRING`] bytes).
pub fn huffman_decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let h = &HUFFMAN;
    let (mut code, mut len) = (0u32, 0usize);
    for &byte in src {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            let (first, count) = (h.first.get(len).copied(), h.count.get(len).copied());
            let (Some(first), Some(count)) = (first, count) else { return Err(Error::Malformed) };
            if code >= first && code - first < u32::from(count) {
                let at = h.index.get(len).map_or(0, |&i| usize::from(i)) + (code - first) as usize;
                let sym = h.symbols.get(at).copied().ok_or(Error::Malformed)?;
                if sym == EOS {
                    return Err(Error::Malformed);
                }
                if out.len() >= MAX_STRING {
                    return Err(Error::TooLarge);
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            }
        }
    }
    // Padding: at most 7 bits, all ones (a prefix of EOS).
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(Error::Malformed);
    }
    Ok(())
}

/// An HPACK integer with an `n`-bit prefix at the start of `b`: its value and the bytes
/// after it.
pub fn integer(b: &[u8], n: u32) -> Result<(usize, &[u8]), Error> {
    let (&first, mut rest) = b.split_first().ok_or(Error::Malformed)?;
    let max = (1usize << n) - 1;
    let mut v = usize::from(first) & max;
    if v < max {
        return Ok((v, rest));
    }
    // At most 4 continuation bytes (values below 2^28).
    for shift in [0u32, 7, 14, 21] {
        let (&c, r) = rest.split_first().ok_or(Error::Malformed)?;
        rest = r;
        v += usize::from(c & 0x7f) << shift;
        if c & 0x80 == 0 {
            return Ok((v, rest));
        }
    }
    Err(Error::Malformed)
}

/// A string literal decoded into `out` (cleared first); the bytes after it.
fn string<'a>(b: &'a [u8], out: &mut Vec<u8>) -> Result<&'a [u8], Error> {
    let huffman = b.first().is_some_and(|c| c & 0x80 != 0);
    let (len, rest) = integer(b, 7)?;
    let raw = rest.get(..len).ok_or(Error::Malformed)?;
    out.clear();
    if huffman {
        huffman_decode(raw, out)?;
    } else {
        if raw.len() > MAX_STRING {
            return Err(Error::TooLarge);
        }
        out.extend_from_slice(raw);
    }
    Ok(rest.get(len..).unwrap_or(&[]))
}

#[derive(Debug)]
struct Entry {
    name: Vec<u8>,
    value: Vec<u8>,
    /// RFC size (32 + name + value), kept apart so a too-large entry can hold nothing.
    size: usize,
}

/// One direction's decoder.
#[derive(Debug)]
pub struct Decoder {
    table: VecDeque<Entry>,
    size: usize,
    /// The encoder's current maximum (from size updates), capped at `limit`.
    max: usize,
    /// SETTINGS_HEADER_TABLE_SIZE of the peer, capped at [`MAX_TABLE`].
    limit: usize,
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max: MAX_TABLE,
            limit: MAX_TABLE,
            name: Vec::new(),
            value: Vec::new(),
        }
    }
}

impl Decoder {
    /// The peer's SETTINGS_HEADER_TABLE_SIZE.
    pub fn set_limit(&mut self, v: u32) {
        self.limit = (v as usize).min(MAX_TABLE);
        self.max = self.max.min(self.limit);
        self.evict(0);
    }

    fn evict(&mut self, room: usize) {
        while self.size + room > self.max {
            match self.table.pop_back() {
                Some(e) => self.size -= e.size,
                None => break,
            }
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = 32 + name.len() + value.len();
        self.evict(size);
        if size > self.max {
            // Larger than the whole table: the table is now empty, as on the encoder's side
            // if its limit is ours; otherwise the encoder keeps it and lookups of it fail.
            return;
        }
        self.table.push_front(Entry { name: name.to_vec(), value: value.to_vec(), size });
        self.size += size;
    }

    /// Entry `i` (1-based, static then dynamic).
    fn entry(&self, i: usize) -> Option<(&[u8], &[u8])> {
        if i == 0 {
            return None;
        }
        if let Some(&(n, v)) = STATIC.get(i - 1) {
            return Some((n, v));
        }
        self.table.get(i - 1 - STATIC.len()).map(|e| (e.name.as_slice(), e.value.as_slice()))
    }

    /// Decodes one complete header block, calling `f(name, value)` per field (fields whose
    /// indexed entry is forgotten are skipped).
    pub fn decode(&mut self, mut b: &[u8], mut f: impl FnMut(&[u8], &[u8])) -> Result<(), Error> {
        let mut fields = 0;
        while let Some(&first) = b.first() {
            fields += 1;
            if fields > MAX_FIELDS {
                return Err(Error::TooLarge);
            }
            if first & 0x80 != 0 {
                // Indexed field.
                let (i, rest) = integer(b, 7)?;
                b = rest;
                match self.entry(i) {
                    Some((n, v)) => f(n, v),
                    None if i > STATIC.len() => {}
                    None => return Err(Error::Malformed),
                }
                continue;
            }
            if first & 0xe0 == 0x20 {
                // Dynamic table size update.
                let (size, rest) = integer(b, 5)?;
                b = rest;
                self.max = size.min(self.limit);
                self.evict(0);
                continue;
            }
            // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
            let (prefix, index) = if first & 0x40 != 0 { (6, true) } else { (4, false) };
            let (i, rest) = integer(b, prefix)?;
            let mut name = std::mem::take(&mut self.name);
            let mut value = std::mem::take(&mut self.value);
            let mut known = true;
            b = if i == 0 {
                string(rest, &mut name)?
            } else {
                name.clear();
                match self.entry(i) {
                    Some((n, _)) => name.extend_from_slice(n),
                    None if i > STATIC.len() => known = false,
                    None => return Err(Error::Malformed),
                }
                rest
            };
            b = string(b, &mut value)?;
            if known {
                f(&name, &value);
            }
            if index {
                self.insert(&name, &value);
            }
            self.name = name;
            self.value = value;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        s.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
    }

    fn fields(d: &mut Decoder, b: &[u8]) -> Vec<(String, String)> {
        let mut v = Vec::new();
        d.decode(b, |n, x| v.push((String::from_utf8_lossy(n).into(), String::from_utf8_lossy(x).into()))).unwrap();
        v
    }

    #[test]
    fn huffman_rfc_examples() {
        let mut out = Vec::new();
        huffman_decode(&hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), &mut out).unwrap();
        assert_eq!(out, b"www.example.com");
        out.clear();
        huffman_decode(&hex("a8eb 1064 9cbf"), &mut out).unwrap();
        assert_eq!(out, b"no-cache");
        out.clear();
        assert_eq!(huffman_decode(&[0xff, 0xff, 0xff, 0xff], &mut out), Err(Error::Malformed));
        assert_eq!(HUFFMAN.count.iter().map(|&c| usize::from(c)).sum::<usize>(), 257);
    }

    #[test]
    fn rfc_c4_requests_with_huffman() {
        let mut d = Decoder::default();
        let f = fields(&mut d, &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
        assert_eq!(f[3], (":authority".into(), "www.example.com".into()));
        let f = fields(&mut d, &hex("8286 84be 5886 a8eb 1064 9cbf"));
        assert_eq!(f[3], (":authority".into(), "www.example.com".into()));
        assert_eq!(f[4], ("cache-control".into(), "no-cache".into()));
        let f = fields(&mut d, &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"));
        assert_eq!(f[2], (":path".into(), "/index.html".into()));
        assert_eq!(f[3], (":authority".into(), "www.example.com".into()));
        assert_eq!(f[4], ("custom-key".into(), "custom-value".into()));
        assert_eq!(d.size, 164);
    }

    #[test]
    fn bounded_table_and_bad_input() {
        let mut d = Decoder::default();
        d.set_limit(0);
        // Literal with indexing: not kept, index 62 then unknown (skipped, no error).
        let f = fields(&mut d, &hex("4003 6162 6301 78 be"));
        assert_eq!(f, vec![("abc".into(), "x".into())]);
        assert!(d.decode(&[0x80], |_, _| {}).is_err());
        assert!(d.decode(&[0xff], |_, _| {}).is_err());
        assert!(d.decode(&[0x40, 0x05, b'a'], |_, _| {}).is_err());
        assert!(integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f], 5).is_err());
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, &[][..])));
    }
    #[test]
    fn eviction_with_a_small_table() {
        // Three responses encoded by python-hpack with a 256-byte table (size update, Huffman,
        // entries evicted and referenced).
        let blocks = [
            "3fe101488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e080a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d35f901d75d0620d263d4c4d6564ff75d8749f4085f2b507aa6fb5efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7f",
            "4883640eff5885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d35f901d75d0620d263d4c4d6564ff75d8749f4085f2b507aa6fd8efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7f",
            "885885aec3771a4b6196d07abe941054d444a8200595040b8166e084a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d35f901d75d0620d263d4c4d6564ff75d8749f4085f2b507aa6ffbefdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7efdfbf7f",
        ];
        let mut d = Decoder::default();
        for (i, (b, status)) in blocks.iter().zip(["302", "307", "200"]).enumerate() {
            let f = fields(&mut d, &hex(b));
            assert_eq!(f[0], (":status".into(), status.into()));
            assert_eq!(f[1], ("cache-control".into(), "private".into()));
            assert_eq!(f[2].1, format!("Mon, 21 Oct 2013 20:13:2{i} GMT"));
            assert_eq!(f[3], ("location".into(), "https://www.example.com".into()));
            assert_eq!(f[4], ("content-type".into(), "application/grpc+proto".into()));
            assert_eq!(f[5].1.len(), 60 + i * 40);
            assert!(d.size <= 256);
        }
    }
}
