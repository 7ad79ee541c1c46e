//! Framing of link messages on a byte stream.
//!
//! A frame is a big-endian `u32` length of what follows, a big-endian `u16` protocol
//! version, then the postcard body. Invariants: no frame is longer than [`MAX_FRAME`]
//! (checked on both ends, before anything is buffered); [`FrameReader`] accepts the stream
//! split anywhere and never panics on any bytes; after [`FrameError::TooLarge`] or
//! [`FrameError::TooShort`] the stream has no boundary left to trust, the reader refuses
//! everything after it and the caller closes the connection. A wrong version or an
//! undecodable body costs that one frame only.
use super::msg::PROTOCOL_VERSION;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Longest frame (version and body), 16 MiB: a policy of tens of thousands of rules fits.
pub const MAX_FRAME: usize = 16 << 20;
/// The length prefix.
pub const LEN_BYTES: usize = 4;
/// The version that follows the length.
pub const VERSION_BYTES: usize = 2;

/// What can go wrong with a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("link frame of {len} bytes exceeds the {max}-byte limit (a peer that is not vigil, or a corrupted stream); close the connection")]
    TooLarge { len: usize, max: usize },
    #[error("link frame of {len} bytes is shorter than its {VERSION_BYTES}-byte version (not a vigil peer); close the connection")]
    TooShort { len: usize },
    #[error("link protocol version {got} from the peer, this side speaks {want}: run vigil-dp and vigil-cp of the same release")]
    Version { got: u16, want: u16 },
    #[error("link frame body does not decode as a version-{PROTOCOL_VERSION} message: {0}")]
    Decode(postcard::Error),
    #[error("link frame has {extra} bytes after its message (a peer with other message types); the frame was skipped")]
    Trailing { extra: usize },
    #[error("link message does not encode: {0}")]
    Encode(postcard::Error),
}

impl FrameError {
    /// Whether the stream can go on after this error (the bad frame was skipped whole).
    pub fn recoverable(&self) -> bool {
        matches!(self, FrameError::Version { .. } | FrameError::Decode(_) | FrameError::Trailing { .. })
    }
}

/// One frame of `msg` in the current protocol version.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    encode_version(msg, PROTOCOL_VERSION)
}

/// One frame of `msg` stamped with `version` (tests of version checks use other versions).
pub fn encode_version<T: Serialize>(msg: &T, version: u16) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; LEN_BYTES];
    out.extend_from_slice(&version.to_be_bytes());
    let mut out = postcard::to_extend(msg, out).map_err(FrameError::Encode)?;
    let len = out.len() - LEN_BYTES;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge { len, max: MAX_FRAME });
    }
    // `len <= MAX_FRAME < u32::MAX`.
    out[..LEN_BYTES].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// Reassembles frames from a byte stream and decodes them.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
    /// Set by a fatal error: the stream is out of step.
    broken: Option<usize>,
}

impl FrameReader {
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Appends bytes read from the stream. Ignored once the reader is broken.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.broken.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole frame's body, if one is buffered: `Ok(None)` means more bytes are
    /// needed. The body is checked for its version but not decoded.
    pub fn next_body(&mut self) -> Result<Option<&[u8]>, FrameError> {
        if let Some(len) = self.broken {
            return Err(if len < VERSION_BYTES {
                FrameError::TooShort { len }
            } else {
                FrameError::TooLarge { len, max: MAX_FRAME }
            });
        }
        let mut head = [0u8; LEN_BYTES + VERSION_BYTES];
        let Some(h) = self.buf.get(self.start..self.start + LEN_BYTES) else { return Ok(None) };
        head[..LEN_BYTES].copy_from_slice(h);
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if !(VERSION_BYTES..=MAX_FRAME).contains(&len) {
            self.broken = Some(len);
            self.buf = Vec::new();
            self.start = 0;
            return self.next_body();
        }
        let at = self.start;
        let Some(frame) = self.buf.get(at + LEN_BYTES..at + LEN_BYTES + len) else { return Ok(None) };
        let got = u16::from_be_bytes([frame[0], frame[1]]);
        self.start += LEN_BYTES + len;
        if got != PROTOCOL_VERSION {
            return Err(FrameError::Version { got, want: PROTOCOL_VERSION });
        }
        Ok(self.buf.get(at + LEN_BYTES + VERSION_BYTES..at + LEN_BYTES + len))
    }

    /// The next whole frame decoded as `T`; `Ok(None)` means more bytes are needed.
    pub fn next_frame<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        match self.next_body()? {
            None => Ok(None),
            Some(body) => match postcard::take_from_bytes(body) {
                Ok((m, [])) => Ok(Some(m)),
                Ok((_, rest)) => Err(FrameError::Trailing { extra: rest.len() }),
                Err(e) => Err(FrameError::Decode(e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::msg::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tuple() -> FlowTuple {
        FlowTuple { proto: 6, src: ip("10.0.0.1"), src_port: 40000, dst: ip("2001:db8::2"), dst_port: 443 }
    }

    /// One of every message, with every optional field both set and unset somewhere.
    pub(crate) fn every_dp_msg() -> Vec<DpMsg> {
        vec![
            DpMsg::Hello(Hello {
                version: PROTOCOL_VERSION,
                dp_version: "0.1.0".into(),
                capabilities: vec!["inline".into(), "capture".into()],
                workers: 4,
            }),
            DpMsg::Stats(StatsReport {
                ts_ms: 1_700_000_000_000,
                rx_packets: 123,
                rx_bytes: 456_789,
                flows_active: 7,
                drops: vec![("link.reports_dropped".into(), 3), ("eve.dropped".into(), 0)],
            }),
            DpMsg::Connections(vec![ConnReport {
                client: ip("10.0.0.1"),
                server: ip("10.0.0.2"),
                server_port: 6379,
                proto: 6,
                app: "redis".into(),
                first_ms: 1,
                last_ms: 2,
                count: 3,
                bytes: 4,
            }]),
            DpMsg::Connections(vec![]),
            DpMsg::Alerts(vec![
                AlertReport {
                    ts_ms: 5,
                    kind: AlertKind::Threat,
                    severity: 1,
                    flow: tuple(),
                    app: "tls".into(),
                    flow_id: 99,
                    signature: Some("2100498:7 GPL ATTACK_RESPONSE id check returned root".into()),
                    rule_id: None,
                    action: "alert".into(),
                    message: "id check".into(),
                    capture_id: Some(12),
                },
                AlertReport {
                    ts_ms: 6,
                    kind: AlertKind::Violation,
                    severity: 2,
                    flow: tuple(),
                    app: "unknown".into(),
                    flow_id: 100,
                    signature: None,
                    rule_id: Some(8),
                    action: "drop".into(),
                    message: "no rule allows web -> db".into(),
                    capture_id: None,
                },
                AlertReport {
                    ts_ms: 7,
                    kind: AlertKind::Quarantine,
                    severity: 1,
                    flow: tuple(),
                    app: String::new(),
                    flow_id: 0,
                    signature: None,
                    rule_id: None,
                    action: "drop".into(),
                    message: "quarantined".into(),
                    capture_id: None,
                },
            ]),
            DpMsg::CaptureReady(CaptureReady { id: 12, file: "12.pcap".into(), bytes: 4096, flow: tuple() }),
            DpMsg::PolicyAck { version: u64::MAX },
        ]
    }

    pub(crate) fn every_cp_msg() -> Vec<CpMsg> {
        vec![
            CpMsg::Welcome { version: PROTOCOL_VERSION },
            CpMsg::Policy(PolicySnapshot::default()),
            CpMsg::Policy(PolicySnapshot {
                version: 42,
                groups: vec![
                    GroupSpec { name: "web".into(), cidrs: vec![(ip("10.1.0.0"), 16)], mode: MODE_PROTECT },
                    GroupSpec { name: "v6".into(), cidrs: vec![(ip("2001:db8::"), 32)], mode: MODE_MONITOR },
                ],
                rules: vec![RuleSpec {
                    id: 1,
                    from: "web".into(),
                    to: "db".into(),
                    apps: vec!["redis".into()],
                    ports: vec![(6379, 6379), (7000, 7001)],
                    allow: true,
                }],
                quarantine: vec![ip("10.9.9.9"), ip("::1")],
                signature_set: 3,
            }),
        ]
    }

    fn split_roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(msgs: &[T]) {
        let mut stream = Vec::new();
        for m in msgs {
            stream.extend(encode(m).unwrap());
        }
        let mut r = FrameReader::new();
        let mut got = Vec::new();
        for b in &stream {
            r.push(std::slice::from_ref(b));
            while let Some(m) = r.next_frame::<T>().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(&got, msgs);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn every_message_round_trips_through_one_byte_splits() {
        split_roundtrip(&every_dp_msg());
        split_roundtrip(&every_cp_msg());
    }

    #[test]
    fn whole_stream_in_one_push() {
        let msgs = every_dp_msg();
        let stream: Vec<u8> = msgs.iter().flat_map(|m| encode(m).unwrap()).collect();
        let mut r = FrameReader::new();
        r.push(&stream);
        for m in &msgs {
            assert_eq!(r.next_frame::<DpMsg>().unwrap().as_ref(), Some(m));
        }
        assert!(r.next_frame::<DpMsg>().unwrap().is_none());
    }

    #[test]
    fn header_is_length_then_version() {
        let f = encode(&DpMsg::PolicyAck { version: 1 }).unwrap();
        let len = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(len, f.len() - 4);
        assert_eq!(u16::from_be_bytes([f[4], f[5]]), PROTOCOL_VERSION);
    }

    #[test]
    fn wrong_version_names_both_and_skips_only_that_frame() {
        let mut r = FrameReader::new();
        r.push(&encode_version(&DpMsg::PolicyAck { version: 1 }, PROTOCOL_VERSION + 1).unwrap());
        r.push(&encode(&DpMsg::PolicyAck { version: 2 }).unwrap());
        let e = r.next_frame::<DpMsg>().unwrap_err();
        assert!(
            matches!(e, FrameError::Version { got, want } if got == PROTOCOL_VERSION + 1 && want == PROTOCOL_VERSION)
        );
        let text = e.to_string();
        assert!(text.contains(&format!("version {}", PROTOCOL_VERSION + 1)), "{text}");
        assert!(text.contains(&format!("speaks {PROTOCOL_VERSION}")), "{text}");
        assert!(e.recoverable());
        assert_eq!(r.next_frame::<DpMsg>().unwrap(), Some(DpMsg::PolicyAck { version: 2 }));
    }

    #[test]
    fn oversized_frame_is_refused_before_buffering_and_breaks_the_stream() {
        let mut r = FrameReader::new();
        r.push(&((MAX_FRAME + 1) as u32).to_be_bytes());
        let e = r.next_frame::<DpMsg>().unwrap_err();
        assert!(matches!(e, FrameError::TooLarge { len, max } if len == MAX_FRAME + 1 && max == MAX_FRAME));
        assert!(!e.recoverable());
        // Nothing after it is believed or buffered.
        r.push(&encode(&DpMsg::PolicyAck { version: 2 }).unwrap());
        assert_eq!(r.buffered(), 0);
        assert!(matches!(r.next_frame::<DpMsg>(), Err(FrameError::TooLarge { .. })));
        // Short frames (no room for the version) are as fatal.
        let mut r = FrameReader::new();
        r.push(&[0, 0, 0, 1, 7]);
        assert!(matches!(r.next_frame::<DpMsg>(), Err(FrameError::TooShort { len: 1 })));
    }

    #[test]
    fn encode_refuses_what_the_reader_would_refuse() {
        let big = CpMsg::Policy(PolicySnapshot {
            rules: vec![
                RuleSpec {
                    id: 0,
                    from: "a".repeat(1000),
                    to: "b".into(),
                    apps: vec![],
                    ports: vec![],
                    allow: true
                };
                MAX_FRAME / 1000 + 1
            ],
            ..PolicySnapshot::default()
        });
        assert!(matches!(encode(&big), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn garbage_bodies_are_decode_errors_and_skipped() {
        let mut r = FrameReader::new();
        // A variant index no enum has, then a truncated Hello.
        let mut f = vec![0, 0, 0, 3];
        f.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        f.push(0x7f);
        r.push(&f);
        let mut f = vec![0, 0, 0, 3];
        f.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        f.push(0);
        r.push(&f);
        // A whole Welcome with a byte too many.
        let mut f = encode(&CpMsg::Welcome { version: 1 }).unwrap();
        f[3] += 1;
        f.push(0);
        r.push(&f);
        r.push(&encode(&CpMsg::Welcome { version: 1 }).unwrap());
        for _ in 0..3 {
            let e = r.next_frame::<CpMsg>().unwrap_err();
            assert!(matches!(e, FrameError::Decode(_) | FrameError::Trailing { extra: 1 }), "{e}");
            assert!(e.recoverable());
        }
        assert_eq!(r.next_frame::<CpMsg>().unwrap(), Some(CpMsg::Welcome { version: 1 }));
    }

    #[test]
    fn pseudo_random_bytes_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut r = FrameReader::new();
            let n = round % 64;
            let mut bytes = Vec::with_capacity(n + 6);
            // Plausible headers half of the time, so bodies get decoded.
            if round % 2 == 0 {
                bytes.extend_from_slice(&((n + 2) as u32).to_be_bytes());
                bytes.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
            }
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.push(x as u8);
            }
            r.push(&bytes);
            for _ in 0..4 {
                let _ = r.next_frame::<DpMsg>();
                let _ = r.next_frame::<CpMsg>();
            }
        }
    }
}
