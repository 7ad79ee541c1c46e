//! Zookeeper: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Zookeeper, tcp: None, udp: None, ports: &[2181], stream: StreamKind::None, datagram: None };
