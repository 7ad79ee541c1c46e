//! Every protocol the engine probes, in tie-break order (earlier wins when two probes match
//! the same bytes and neither's ports name the flow's server port).
use super::*;

pub static PROTOCOLS: &[Desc] = &[
    tls::DESC,
    http::DESC,
    http2::DESC,
    ssh::DESC,
    quic::DESC,
    mdns::DESC,
    dns::DESC,
    dhcp::DESC,
    ntp::DESC,
    snmp::DESC,
    sip::DESC,
    rtsp::DESC,
    krb5::DESC,
    ldap::DESC,
    smb::DESC,
    rdp::DESC,
    mysql::DESC,
    pgsql::DESC,
    redis::DESC,
    mongodb::DESC,
    cassandra::DESC,
    memcached::DESC,
    kafka::DESC,
    zookeeper::DESC,
    amqp::DESC,
    mqtt::DESC,
    nats::DESC,
    smtp::DESC,
    pop3::DESC,
    imap::DESC,
    ftp::DESC,
    stratum::DESC,
];

/// The candidate mask is a u64.
const _: () = assert!(PROTOCOLS.len() <= 64);

/// The descriptor of `p`, if `p` has a probe of its own.
pub fn desc(p: AppProto) -> Option<&'static Desc> {
    PROTOCOLS.iter().find(|d| d.proto == p)
}
