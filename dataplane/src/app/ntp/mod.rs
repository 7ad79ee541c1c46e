//! Ntp: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc =
    Desc { proto: AppProto::Ntp, tcp: None, udp: None, ports: &[123], stream: StreamKind::None, datagram: None };
