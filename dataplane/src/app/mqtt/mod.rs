//! MQTT: identification and Suricata's `mqtt` events.
//!
//! Probe: a client CONNECT (0x10, remaining length, protocol `MQTT` level 4/5 or `MQIsdp`
//! level 3, valid connect flags) or a server CONNACK (0x20, length 2 with flags <= 1 and a
//! return code <= 5, or a v5 CONNACK whose properties fill the packet) that is alone in
//! its segment or followed by another MQTT packet type.
//!
//! Parser: `{"connect":{"qos","retain","dup","protocol_string","protocol_version","flags":
//! {...},"client_id","username"}}`, `{"connack":{...,"session_present","return_code"}}`,
//! `{"publish":{...,"topic","message_id"}}`, `{"subscribe":{...,"message_id","topics":
//! [{"topic","qos"}]}}`, up to [`MAX_EVENTS`] per flow.
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::Error;

pub const DESC: Desc = Desc {
    proto: AppProto::Mqtt,
    tcp: Some(probe),
    udp: None,
    ports: &[1883],
    stream: StreamKind::Mqtt,
    datagram: None,
};

/// Events written per flow.
pub const MAX_EVENTS: u32 = 64;
/// Packets longer than this are read through their first [`PREFIX`] bytes and skipped.
const MAX_WHOLE_PACKET: usize = 8192;
const PREFIX: usize = 2048;

const CONNECT: u8 = 1;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const SUBSCRIBE: u8 = 8;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let (t, len, hl) = match parser::fixed_header(b) {
        Ok(h) => h,
        Err(Error::Incomplete) => {
            return if matches!(b.first(), None | Some(0x10 | 0x20)) { Probe::NeedMore } else { Probe::NoMatch }
        }
        Err(Error::Invalid) => return Probe::NoMatch,
    };
    let body = b.get(hl..(hl + len).min(b.len())).unwrap_or(&[]);
    match t {
        0x10 if len >= 10 => match parser::connect(body) {
            Ok(_) => Probe::Match,
            Err(Error::Incomplete) if b.len() < hl + len => Probe::NeedMore,
            Err(_) => Probe::NoMatch,
        },
        0x20 if (2..=64).contains(&len) => {
            if b.len() < hl + len {
                return Probe::NeedMore;
            }
            if parser::connack(body).is_err() {
                return Probe::NoMatch;
            }
            // Alone, or followed by a packet type the server sends (PUBLISH, SUBACK, ...).
            match b.get(hl + len) {
                None => Probe::Match,
                Some(n) if matches!(n >> 4, 3 | 4 | 5 | 6 | 7 | 9 | 11 | 13 | 14 | 15) => Probe::Match,
                Some(_) => Probe::NoMatch,
            }
        }
        _ => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Flags {
    username: bool,
    password: bool,
    will_retain: bool,
    will: bool,
    clean_session: bool,
}

#[derive(Serialize)]
struct ConnectEv<'a> {
    qos: u8,
    retain: bool,
    dup: bool,
    protocol_string: Text<'a>,
    protocol_version: u8,
    flags: Flags,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<Text<'a>>,
}

#[derive(Serialize)]
struct ConnackEv {
    qos: u8,
    retain: bool,
    dup: bool,
    session_present: bool,
    return_code: u8,
}

#[derive(Serialize)]
struct PublishEv<'a> {
    qos: u8,
    retain: bool,
    dup: bool,
    topic: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<u16>,
}

#[derive(Serialize)]
struct Filter<'a> {
    topic: Text<'a>,
    qos: u8,
}

#[derive(Serialize)]
struct SubscribeEv<'a> {
    qos: u8,
    retain: bool,
    dup: bool,
    message_id: u16,
    topics: &'a [Filter<'a>],
}

#[derive(Serialize)]
enum Event<'a> {
    #[serde(rename = "connect")]
    Connect(ConnectEv<'a>),
    #[serde(rename = "connack")]
    Connack(ConnackEv),
    #[serde(rename = "publish")]
    Publish(PublishEv<'a>),
    #[serde(rename = "subscribe")]
    Subscribe(SubscribeEv<'a>),
}

#[derive(Debug, Default)]
pub struct State {
    /// Protocol level from CONNECT (5 changes SUBSCRIBE's layout).
    version: u8,
    events: u32,
    lost: [bool; 2],
}

impl State {
    fn packets(&mut self, dir: usize, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let mut off = 0;
        let mut filters = Vec::new();
        while self.events < MAX_EVENTS {
            let Some(rest) = b.get(off..).filter(|r| !r.is_empty()) else { break };
            let (t, len, hl) = match parser::fixed_header(rest) {
                Ok(h) => h,
                Err(Error::Incomplete) => break,
                Err(Error::Invalid) => {
                    self.lost[dir] = true;
                    break;
                }
            };
            let body = match rest.get(hl..hl + len) {
                Some(body) => body,
                None if hl + len > MAX_WHOLE_PACKET => match rest.get(hl..hl + PREFIX) {
                    Some(p) => p,
                    None => break,
                },
                None => break,
            };
            off += hl + len;
            let (qos, retain, dup) = ((t >> 1) & 3, t & 1 != 0, t & 8 != 0);
            let ev = match t >> 4 {
                CONNECT => match parser::connect(body) {
                    Ok(c) => {
                        self.version = c.version;
                        Event::Connect(ConnectEv {
                            qos,
                            retain,
                            dup,
                            protocol_string: Text(c.protocol),
                            protocol_version: c.version,
                            flags: Flags {
                                username: c.flags & parser::FLAG_USERNAME != 0,
                                password: c.flags & parser::FLAG_PASSWORD != 0,
                                will_retain: c.flags & parser::FLAG_WILL_RETAIN != 0,
                                will: c.flags & parser::FLAG_WILL != 0,
                                clean_session: c.flags & parser::FLAG_CLEAN != 0,
                            },
                            client_id: c.client_id.map(Text),
                            username: c.username.map(Text),
                        })
                    }
                    Err(_) => continue,
                },
                CONNACK => match parser::connack(body) {
                    Ok((session_present, return_code)) => {
                        Event::Connack(ConnackEv { qos, retain, dup, session_present, return_code })
                    }
                    Err(_) => continue,
                },
                PUBLISH => match parser::publish(t, body) {
                    Ok((topic, message_id)) => {
                        Event::Publish(PublishEv { qos, retain, dup, topic: Text(topic), message_id })
                    }
                    Err(_) => continue,
                },
                SUBSCRIBE if dir == TO_SERVER => {
                    filters.clear();
                    let Ok(message_id) = parser::subscribe(self.version, body, &mut filters) else { continue };
                    let topics: Vec<Filter<'_>> =
                        filters.iter().map(|(f, q)| Filter { topic: Text(f), qos: *q }).collect();
                    cx.emit(
                        dir,
                        "mqtt",
                        &Event::Subscribe(SubscribeEv { qos, retain, dup, message_id, topics: &topics }),
                    );
                    self.events += 1;
                    continue;
                }
                _ => continue,
            };
            cx.emit(dir, "mqtt", &ev);
            self.events += 1;
        }
        off
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let d = dir.min(1);
        if !self.lost[d] && !buf.feed(data, |b| self.packets(d, b, cx)) {
            self.lost[d] = true;
        }
        if self.events >= MAX_EVENTS || self.lost == [true, true] {
            Next::Done
        } else {
            Next::More
        }
    }

    fn gap(&mut self, dir: usize) -> Next {
        self.lost[dir.min(1)] = true;
        if self.lost == [true, true] {
            Next::Done
        } else {
            Next::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Collect, L4};

    const FOREIGN: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5e\x1c\x9a\x00\x11\x22\x33\x44",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
        b"\x9d\x3f\x51\xe2\x07\xaa\x41\x0c\x88\x19\xf4\x6b\x25\xd0\x3e\x77",
        b"\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    /// CONNECT 3.1.1, clean session, username "bob", password, client id "sensor-1".
    const CONNECT_PKT: &[u8] = b"\x10\x21\x00\x04MQTT\x04\xc2\x00\x3c\x00\x08sensor-1\x00\x03bob\x00\x06secret";
    const CONNACK_PKT: &[u8] = b"\x20\x02\x00\x00";
    const PUBLISH_PKT: &[u8] = b"\x32\x11\x00\x0bhome/temp/1\x00\x07\x32\x31";
    const SUBSCRIBE_PKT: &[u8] = b"\x82\x0a\x00\x01\x00\x05a/b/#\x01";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(0, CONNECT_PKT), Probe::Match);
        assert_eq!(p(1, CONNACK_PKT), Probe::Match);
        assert_eq!(p(1, b"\x20\x03\x00\x00\x00"), Probe::Match); // v5
        assert_eq!(p(0, b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02id"), Probe::Match);
        for n in 0..12 {
            assert_eq!(p(0, &CONNECT_PKT[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(1, b"\x20\x02\x00\x09"), Probe::NoMatch);
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(client: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 1883);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        for c in client {
            st.data(0, c, &mut cbuf, &mut cx);
        }
        st.data(1, CONNACK_PKT, &mut sbuf, &mut cx);
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn events_split_or_whole() {
        let all = [CONNECT_PKT, PUBLISH_PKT, SUBSCRIBE_PKT].concat();
        let whole = run(&[&all]);
        assert_eq!(whole.len(), 4);
        assert!(whole.iter().all(|e| e.1 == "mqtt"));
        let c = &whole[0].2["connect"];
        assert_eq!(c["protocol_string"], "MQTT");
        assert_eq!(c["protocol_version"], 4);
        assert_eq!(c["client_id"], "sensor-1");
        assert_eq!(c["username"], "bob");
        assert_eq!(c["flags"]["clean_session"], true);
        assert_eq!(c["flags"]["password"], true);
        assert_eq!(
            whole[1].2["publish"],
            serde_json::json!({"qos":1,"retain":false,"dup":false,"topic":"home/temp/1","message_id":7})
        );
        assert_eq!(whole[2].2["subscribe"]["topics"], serde_json::json!([{"topic":"a/b/#","qos":1}]));
        assert_eq!(whole[3].2["connack"]["return_code"], 0);
        let split: Vec<&[u8]> = all.chunks(3).collect();
        assert_eq!(run(&split), whole);
    }
}
