//! Capture files: a streaming reader for pcap (all four magics) and pcapng (SHB, IDB, EPB,
//! SPB, obsolete PB; other blocks skipped), and a pcap writer with nanosecond timestamps.
//!
//! The file is hostile input: every length is checked, a record larger than
//! [`MAX_RECORD_LEN`] or a block larger than [`MAX_BLOCK_LEN`] is an error, and the reader's
//! buffer never grows past that bound.
use super::LinkType;
use std::io::{self, Read, Write};

/// Largest captured packet accepted (a 64 KiB IP packet plus link headers, with margin).
pub const MAX_RECORD_LEN: usize = 256 * 1024;
/// Largest pcapng block accepted.
pub const MAX_BLOCK_LEN: usize = MAX_RECORD_LEN + 4096;
/// Interfaces one pcapng section may declare.
const MAX_INTERFACES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error(
        "not a pcap or pcapng file (first bytes {0:02x?}); give a capture written by tcpdump, tshark or Wireshark"
    )]
    NotPcap([u8; 4]),
    #[error("file ends inside a {what} at byte {offset}: the capture is truncated")]
    Truncated { what: &'static str, offset: u64 },
    #[error("record at byte {offset} claims {len} bytes, more than the {max}-byte limit: the file is corrupt")]
    TooLarge { offset: u64, len: usize, max: usize },
    #[error("pcapng block at byte {offset} is malformed: {why}")]
    BadBlock { offset: u64, why: &'static str },
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// One packet of a capture, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Record<'a> {
    pub ts_ns: u64,
    pub orig_len: u32,
    pub link: LinkType,
    pub data: &'a [u8],
}

#[derive(Clone, Copy)]
struct Iface {
    link: LinkType,
    /// Multiply a raw timestamp by `mul` then divide by `div` to get nanoseconds.
    mul: u64,
    div: u64,
}

enum Format {
    Pcap { big_endian: bool, nanos: bool, link: LinkType },
    Pcapng { big_endian: bool, ifaces: Vec<Iface> },
}

/// Streaming reader over any `Read`.
pub struct Reader<R: Read> {
    src: R,
    fmt: Format,
    buf: Vec<u8>,
    offset: u64,
}

fn u16_of(b: [u8; 2], be: bool) -> u16 {
    if be {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}
fn u32_of(b: [u8; 4], be: bool) -> u32 {
    if be {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}
fn arr4(b: &[u8], off: usize) -> [u8; 4] {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    a
}
fn arr2(b: &[u8], off: usize) -> [u8; 2] {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        a.copy_from_slice(s);
    }
    a
}

/// Reads exactly `buf.len()` bytes; Ok(false) on a clean EOF before the first byte.
fn read_full<R: Read>(src: &mut R, buf: &mut [u8], what: &'static str, offset: u64) -> Result<bool, PcapError> {
    let mut got = 0;
    while got < buf.len() {
        let n = match src.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return if got == 0 { Ok(false) } else { Err(PcapError::Truncated { what, offset }) };
        }
        got += n;
    }
    Ok(true)
}

impl<R: Read> Reader<R> {
    pub fn new(mut src: R) -> Result<Reader<R>, PcapError> {
        let mut magic = [0u8; 4];
        if !read_full(&mut src, &mut magic, "file header", 0)? {
            return Err(PcapError::NotPcap([0; 4]));
        }
        let m = u32::from_le_bytes(magic);
        let pcap = match m {
            0xa1b2_c3d4 => Some((false, false)),
            0xd4c3_b2a1 => Some((true, false)),
            0xa1b2_3c4d => Some((false, true)),
            0x4d3c_b2a1 => Some((true, true)),
            _ => None,
        };
        if let Some((be, nanos)) = pcap {
            let mut rest = [0u8; 20];
            if !read_full(&mut src, &mut rest, "file header", 4)? {
                return Err(PcapError::Truncated { what: "file header", offset: 4 });
            }
            let link = LinkType::from_pcap(u32_of(arr4(&rest, 16), be) & 0x0fff_ffff);
            return Ok(Reader { src, fmt: Format::Pcap { big_endian: be, nanos, link }, buf: Vec::new(), offset: 24 });
        }
        if m == 0x0a0d_0d0a {
            let mut r = Reader {
                src,
                fmt: Format::Pcapng { big_endian: false, ifaces: Vec::new() },
                buf: Vec::new(),
                offset: 0,
            };
            let mut len = [0u8; 4];
            if !read_full(&mut r.src, &mut len, "section header", 4)? {
                return Err(PcapError::Truncated { what: "section header", offset: 4 });
            }
            r.read_section(0, len)?;
            return Ok(r);
        }
        Err(PcapError::NotPcap(magic))
    }

    /// Link type of the first interface (pcap: the file's).
    pub fn link(&self) -> Option<LinkType> {
        match &self.fmt {
            Format::Pcap { link, .. } => Some(*link),
            Format::Pcapng { ifaces, .. } => ifaces.first().map(|i| i.link),
        }
    }

    /// Reads a section header block whose type and length words (`len_raw`, in the
    /// section's unknown byte order) were read from `at`; the byte-order magic comes next.
    fn read_section(&mut self, at: u64, len_raw: [u8; 4]) -> Result<(), PcapError> {
        let mut bom = [0u8; 4];
        if !read_full(&mut self.src, &mut bom, "section header", at + 8)? {
            return Err(PcapError::Truncated { what: "section header", offset: at + 8 });
        }
        let be = match u32::from_le_bytes(bom) {
            0x1a2b_3c4d => false,
            0x4d3c_2b1a => true,
            _ => return Err(PcapError::BadBlock { offset: at, why: "bad byte-order magic" }),
        };
        let len = u32_of(len_raw, be) as usize;
        if !(28..=MAX_BLOCK_LEN).contains(&len) || !len.is_multiple_of(4) {
            return Err(PcapError::BadBlock { offset: at, why: "bad section header length" });
        }
        self.buf.resize(len - 12, 0);
        if !read_full(&mut self.src, &mut self.buf, "section header", at + 12)? {
            return Err(PcapError::Truncated { what: "section header", offset: at + 12 });
        }
        self.offset = at + len as u64;
        self.fmt = Format::Pcapng { big_endian: be, ifaces: Vec::new() };
        Ok(())
    }

    /// The next packet, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, PcapError> {
        match self.fmt {
            Format::Pcap { big_endian, nanos, link } => self.next_pcap(big_endian, nanos, link),
            Format::Pcapng { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, be: bool, nanos: bool, link: LinkType) -> Result<Option<Record<'_>>, PcapError> {
        let mut h = [0u8; 16];
        let at = self.offset;
        if !read_full(&mut self.src, &mut h, "record header", at)? {
            return Ok(None);
        }
        let sec = u32_of(arr4(&h, 0), be) as u64;
        let frac = u32_of(arr4(&h, 4), be) as u64;
        let caplen = u32_of(arr4(&h, 8), be) as usize;
        let orig = u32_of(arr4(&h, 12), be);
        if caplen > MAX_RECORD_LEN {
            return Err(PcapError::TooLarge { offset: at, len: caplen, max: MAX_RECORD_LEN });
        }
        self.buf.resize(caplen, 0);
        if caplen > 0 && !read_full(&mut self.src, &mut self.buf, "record", at + 16)? {
            return Err(PcapError::Truncated { what: "record", offset: at + 16 });
        }
        self.offset = at + 16 + caplen as u64;
        let ts_ns = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        Ok(Some(Record { ts_ns, orig_len: orig.max(caplen as u32), link, data: &self.buf }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Record<'_>>, PcapError> {
        loop {
            let at = self.offset;
            let mut h = [0u8; 8];
            if !read_full(&mut self.src, &mut h, "block header", at)? {
                return Ok(None);
            }
            let be = match &self.fmt {
                Format::Pcapng { big_endian, .. } => *big_endian,
                Format::Pcap { .. } => false,
            };
            if u32::from_le_bytes(arr4(&h, 0)) == 0x0a0d_0d0a {
                // A new section: its own byte order, its own interfaces.
                self.read_section(at, arr4(&h, 4))?;
                continue;
            }
            let ty = u32_of(arr4(&h, 0), be);
            let len = u32_of(arr4(&h, 4), be) as usize;
            if len < 12 || !len.is_multiple_of(4) {
                return Err(PcapError::BadBlock {
                    offset: at,
                    why: "block length is not a multiple of 4 of at least 12",
                });
            }
            if len > MAX_BLOCK_LEN {
                return Err(PcapError::TooLarge { offset: at, len, max: MAX_BLOCK_LEN });
            }
            self.buf.resize(len - 8, 0);
            if !read_full(&mut self.src, &mut self.buf, "block", at + 8)? {
                return Err(PcapError::Truncated { what: "block", offset: at + 8 });
            }
            self.offset = at + len as u64;
            let body_len = len - 12; // without the trailing length copy
            match ty {
                1 => self.add_interface(be, body_len, at)?,
                6 | 2 => {
                    if body_len < 20 {
                        return Err(PcapError::BadBlock { offset: at, why: "packet block too short" });
                    }
                    let iface_id = if ty == 6 {
                        u32_of(arr4(&self.buf, 0), be) as usize
                    } else {
                        u16_of(arr2(&self.buf, 0), be) as usize
                    };
                    let ts = ((u32_of(arr4(&self.buf, 4), be) as u64) << 32) | u32_of(arr4(&self.buf, 8), be) as u64;
                    let caplen = u32_of(arr4(&self.buf, 12), be) as usize;
                    let orig = u32_of(arr4(&self.buf, 16), be);
                    if caplen > body_len - 20 {
                        return Err(PcapError::BadBlock { offset: at, why: "captured length exceeds the block" });
                    }
                    let iface = self.iface(iface_id, at)?;
                    let ts_ns = scale_ts(ts, iface);
                    let data = self.buf.get(20..20 + caplen).unwrap_or_default();
                    return Ok(Some(Record { ts_ns, orig_len: orig.max(caplen as u32), link: iface.link, data }));
                }
                3 => {
                    if body_len < 4 {
                        return Err(PcapError::BadBlock { offset: at, why: "simple packet block too short" });
                    }
                    let orig = u32_of(arr4(&self.buf, 0), be);
                    let caplen = (orig as usize).min(body_len - 4);
                    let iface = self.iface(0, at)?;
                    let data = self.buf.get(4..4 + caplen).unwrap_or_default();
                    return Ok(Some(Record { ts_ns: 0, orig_len: orig.max(caplen as u32), link: iface.link, data }));
                }
                _ => {} // name resolution, statistics, custom, ...: skipped
            }
        }
    }

    fn iface(&self, id: usize, at: u64) -> Result<Iface, PcapError> {
        match &self.fmt {
            Format::Pcapng { ifaces, .. } => ifaces
                .get(id)
                .copied()
                .ok_or(PcapError::BadBlock { offset: at, why: "packet names an interface that was not declared" }),
            Format::Pcap { .. } => Err(PcapError::BadBlock { offset: at, why: "not pcapng" }),
        }
    }

    fn add_interface(&mut self, be: bool, body_len: usize, at: u64) -> Result<(), PcapError> {
        if body_len < 8 {
            return Err(PcapError::BadBlock { offset: at, why: "interface block too short" });
        }
        let link = LinkType::from_pcap(u16_of(arr2(&self.buf, 0), be) as u32);
        let (mut mul, mut div) = (1000u64, 1u64); // default resolution: microseconds
                                                  // Options: code u16, length u16, value padded to 4.
        let mut p = 8usize;
        while p + 4 <= body_len {
            let code = u16_of(arr2(&self.buf, p), be);
            let olen = u16_of(arr2(&self.buf, p + 2), be) as usize;
            if code == 0 {
                break;
            }
            if code == 9 && olen >= 1 {
                let r = self.buf.get(p + 4).copied().unwrap_or(6);
                let n = (r & 0x7f) as u32;
                if r & 0x80 == 0 {
                    // 10^-n seconds
                    if n <= 9 {
                        mul = 10u64.pow(9 - n);
                        div = 1;
                    } else if n <= 18 {
                        mul = 1;
                        div = 10u64.pow(n - 9);
                    }
                } else if n < 63 {
                    // 2^-n seconds
                    mul = 1_000_000_000;
                    div = 1u64 << n;
                }
            }
            p += 4 + olen.div_ceil(4) * 4;
        }
        if let Format::Pcapng { ifaces, .. } = &mut self.fmt {
            if ifaces.len() >= MAX_INTERFACES {
                return Err(PcapError::BadBlock { offset: at, why: "more than 256 interfaces in one section" });
            }
            ifaces.push(Iface { link, mul, div });
        }
        Ok(())
    }
}

fn scale_ts(ts: u64, i: Iface) -> u64 {
    if i.div == 1 {
        ts.saturating_mul(i.mul)
    } else {
        ((ts as u128 * i.mul as u128) / i.div as u128) as u64
    }
}

/// Writes a classic pcap file with nanosecond timestamps.
pub struct Writer<W: Write> {
    dst: W,
}

impl<W: Write> Writer<W> {
    pub fn new(mut dst: W, link: LinkType, snaplen: u32) -> io::Result<Writer<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&(link.to_pcap() as u32).to_le_bytes());
        dst.write_all(&h)?;
        Ok(Writer { dst })
    }

    pub fn write(&mut self, ts_ns: u64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_ns % 1_000_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        self.dst.write_all(&h)?;
        self.dst.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.dst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_round_trip() {
        let mut w = Writer::new(Vec::new(), LinkType::Ethernet, 65535).unwrap();
        w.write(1_700_000_000_123_456_789, 100, &[1, 2, 3]).unwrap();
        w.write(1_700_000_001_000_000_000, 4, &[4, 5, 6, 7]).unwrap();
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes[..]).unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!((a.ts_ns, a.orig_len, a.data), (1_700_000_000_123_456_789, 100, &[1u8, 2, 3][..]));
        let b = r.next_record().unwrap().unwrap();
        assert_eq!(b.data, &[4, 5, 6, 7]);
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn pcapng_with_tsresol() {
        let mut f = Vec::new();
        // SHB
        f.extend_from_slice(&0x0a0d0d0au32.to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        f.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&(-1i64).to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        // IDB with if_tsresol = 9 (ns)
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&28u32.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&0u16.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&9u16.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&[9, 0, 0, 0]);
        f.extend_from_slice(&28u32.to_le_bytes());
        // EPB with 5 bytes of data
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&40u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&1_000_000_007u32.to_le_bytes());
        f.extend_from_slice(&5u32.to_le_bytes());
        f.extend_from_slice(&60u32.to_le_bytes());
        f.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]);
        f.extend_from_slice(&40u32.to_le_bytes());
        let mut r = Reader::new(&f[..]).unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!(
            (a.ts_ns, a.orig_len, a.data, a.link),
            (1_000_000_007, 60, &[1u8, 2, 3, 4, 5][..], LinkType::Ethernet)
        );
        assert!(r.next_record().unwrap().is_none());
        // Every truncation is an error or a clean end, never a panic.
        for n in 0..f.len() {
            if let Ok(mut r) = Reader::new(&f[..n]) {
                while let Ok(Some(_)) = r.next_record() {}
            }
        }
    }

    #[test]
    fn garbage_is_not_pcap() {
        assert!(matches!(Reader::new(&b"hello world, this is text"[..]), Err(PcapError::NotPcap(_))));
    }
}
