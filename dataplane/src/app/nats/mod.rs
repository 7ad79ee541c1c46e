//! Nats: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Nats, tcp: None, udp: None, ports: &[4222], stream: StreamKind::None, datagram: None };
