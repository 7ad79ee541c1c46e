//! Krb5: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, StreamKind, StreamParser};

pub const DESC: Desc =
    Desc { proto: AppProto::Krb5, tcp: None, udp: None, ports: &[88], stream: StreamKind::Krb5, datagram: None };

/// Placeholder parser: replaced by the protocol's real parser.
#[derive(Debug, Default)]
pub struct State;

impl StreamParser for State {
    fn data(&mut self, _dir: usize, _data: &[u8], _buf: &mut MsgBuf, _cx: &mut Cx<'_>) -> Next {
        Next::Done
    }
}
