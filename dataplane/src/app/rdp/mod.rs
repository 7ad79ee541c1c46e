//! RDP: identification from the TPKT + X.224 Connection Request / Confirm that opens every
//! RDP connection, and Suricata's EVE `rdp` events `initial_request` (cookie, flags) and
//! `initial_response` (selected protocol, server flags, or the failure code).
//!
//! When the server selects TLS or CredSSP (anything but standard RDP security), the rest of
//! the connection is TLS, like a STARTTLS upgrade: the flow becomes `tls` (`rdp` stays
//! as `app_proto_orig`) and the bytes go to the TLS parser, which writes the `tls` event.
use crate::app::{tls, AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use serde::Serialize;

pub mod parser;

pub const DESC: Desc =
    Desc { proto: AppProto::Rdp, tcp: Some(probe), udp: None, ports: &[3389], stream: StreamKind::Rdp, datagram: None };

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    match parser::pdu(i.data) {
        Ok(_) => Probe::Match,
        Err(parser::Error::Incomplete) => Probe::NeedMore,
        Err(parser::Error::Invalid) => Probe::NoMatch,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Waiting for this direction's CR or CC.
    #[default]
    Start,
    /// Its CR/CC was parsed (or was not there): nothing more in clear.
    Done,
}

#[derive(Debug, Default)]
pub struct State {
    stage: [Stage; 2],
    events: u64,
    /// The server selected TLS or CredSSP: everything after the CR/CC is TLS.
    upgrade: bool,
    tls: Option<Box<tls::State>>,
    /// The TLS parser said it is done.
    tls_done: bool,
}

#[derive(Serialize)]
struct Event<'a> {
    tx_id: u64,
    event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookie: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    server_supports: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
}

fn request_flags(f: u8) -> Vec<&'static str> {
    let names = [
        (0x01, "restricted_admin_mode_required"),
        (0x02, "redirected_authentication_mode_required"),
        (0x08, "correlation_info_present"),
    ];
    names.iter().filter(|(bit, _)| f & bit != 0).map(|(_, n)| *n).collect()
}

fn server_flags(f: u8) -> Vec<&'static str> {
    let names = [
        (0x01, "extended_client_data"),
        (0x02, "dynvc_gfx"),
        (0x08, "restricted_admin"),
        (0x10, "redirected_authentication"),
    ];
    names.iter().filter(|(bit, _)| f & bit != 0).map(|(_, n)| *n).collect()
}

impl State {
    /// Parses this direction's CR/CC from `b`; returns the bytes used.
    fn start(&mut self, dir: usize, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let (pdu, used) = match parser::pdu(b) {
            Ok(v) => v,
            Err(parser::Error::Incomplete) => return 0,
            Err(parser::Error::Invalid) => {
                self.set_stage(dir, Stage::Done);
                return b.len();
            }
        };
        let mut ev = Event {
            tx_id: self.events,
            event_type: "initial_request",
            cookie: None,
            flags: Vec::new(),
            server_supports: Vec::new(),
            protocol: None,
            error_code: None,
        };
        match pdu {
            parser::Pdu::Request { cookie, neg } => {
                ev.cookie = cookie.map(Text);
                ev.flags = neg.map(|(f, _)| request_flags(f)).unwrap_or_default();
            }
            parser::Pdu::Confirm { neg } => {
                ev.event_type = "initial_response";
                match neg {
                    Some((parser::NEG_TYPE_RSP, flags, proto)) => {
                        ev.server_supports = server_flags(flags);
                        ev.protocol = parser::protocol_name(proto);
                        self.upgrade = proto != 0;
                    }
                    Some((_, _, code)) => ev.error_code = parser::failure_name(code),
                    None => {}
                }
            }
        }
        cx.emit(dir, "rdp", &ev);
        self.events += 1;
        self.set_stage(dir, Stage::Done);
        if self.upgrade && self.tls.is_none() {
            cx.set_app(AppProto::Tls);
            self.tls = Some(Box::default());
        }
        used
    }

    fn set_stage(&mut self, dir: usize, s: Stage) {
        if let Some(st) = self.stage.get_mut(dir) {
            *st = s;
        }
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let mut after: &[u8] = &[];
        if self.stage.get(dir) == Some(&Stage::Start) {
            if buf.pending() == 0 {
                // Usual case: the whole CR/CC is in this chunk; what follows may be TLS.
                let used = self.start(dir, data, cx);
                if used == 0 {
                    buf.feed(data, |_| 0);
                } else {
                    after = data.get(used.min(data.len())..).unwrap_or(&[]);
                }
            } else {
                let mut used_total = 0;
                let held = buf.pending();
                buf.feed(data, |b| {
                    used_total = self.start(dir, b, cx);
                    // Whole CR/CC or nothing: what follows it is handed to TLS below.
                    if used_total == 0 {
                        0
                    } else {
                        b.len()
                    }
                });
                if used_total > held {
                    after = data.get((used_total - held).min(data.len())..).unwrap_or(&[]);
                }
            }
        } else {
            after = data;
        }
        if let Some(t) = self.tls.as_deref_mut() {
            if !after.is_empty() && !self.tls_done {
                let mut tls_buf = MsgBuf::new(0);
                if t.data(dir, after, &mut tls_buf, cx) == Next::Done {
                    self.tls_done = true;
                }
            }
        }
        let both = self.stage.iter().all(|s| *s == Stage::Done);
        if both && (self.tls.is_none() || self.tls_done) {
            Next::Done
        } else {
            Next::More
        }
    }

    fn gap(&mut self, dir: usize) -> Next {
        self.set_stage(dir, Stage::Done);
        match self.tls.as_deref_mut() {
            Some(t) if !self.tls_done => {
                if t.gap(dir) == Next::Done {
                    self.tls_done = true;
                }
                if self.tls_done {
                    Next::Done
                } else {
                    Next::More
                }
            }
            _ if self.stage.iter().all(|s| *s == Stage::Done) => Next::Done,
            _ => Next::More,
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if let Some(t) = self.tls.as_deref_mut() {
            if !self.tls_done {
                t.end(cx);
            }
        }
    }
}

#[cfg(test)]
mod tests;
