//! Mdns: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Mdns, tcp: None, udp: None, ports: &[5353], stream: StreamKind::None, datagram: None };
