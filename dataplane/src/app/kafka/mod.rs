//! Kafka: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, StreamKind, StreamParser};

pub const DESC: Desc =
    Desc { proto: AppProto::Kafka, tcp: None, udp: None, ports: &[9092], stream: StreamKind::Kafka, datagram: None };

/// Placeholder parser: replaced by the protocol's real parser.
#[derive(Debug, Default)]
pub struct State;

impl StreamParser for State {
    fn data(&mut self, _dir: usize, _data: &[u8], _buf: &mut MsgBuf, _cx: &mut Cx<'_>) -> Next {
        Next::Done
    }
}
