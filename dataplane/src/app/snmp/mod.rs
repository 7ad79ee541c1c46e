//! Snmp: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Snmp, tcp: None, udp: None, ports: &[161, 162], stream: StreamKind::None, datagram: None };
