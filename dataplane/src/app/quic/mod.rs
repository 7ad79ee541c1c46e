//! Quic: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Quic, tcp: None, udp: None, ports: &[443], stream: StreamKind::None, datagram: None };
