//! Amqp: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Amqp, tcp: None, udp: None, ports: &[5672], stream: StreamKind::None, datagram: None };
