//! Cassandra: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Cassandra, tcp: None, udp: None, ports: &[9042], stream: StreamKind::None, datagram: None };
