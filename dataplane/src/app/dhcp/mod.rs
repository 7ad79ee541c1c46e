//! Dhcp: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Dhcp, tcp: None, udp: None, ports: &[67, 68], stream: StreamKind::None, datagram: None };
