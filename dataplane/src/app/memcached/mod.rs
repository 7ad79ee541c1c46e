//! Memcached: NOT IMPLEMENTED YET (no probe registered).
use crate::app::{AppProto, Desc, StreamKind};

pub const DESC: Desc = Desc {
    proto: AppProto::Memcached,
    tcp: None,
    udp: None,
    ports: &[11211],
    stream: StreamKind::None,
    datagram: None,
};
