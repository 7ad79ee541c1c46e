//! Protocols are named from their bytes, not their ports: generated conversations of real
//! protocol messages on unexpected ports are named correctly, and well-known ports that
//! carry something else do not get that port's protocol. Runs `vigil-dp replay` on a
//! generated capture and reads the EVE `flow` and protocol events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use vigil_dataplane::testgen::payloads::*;
use vigil_dataplane::testgen::{Rng, Traffic, Vlan};

fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.next_u64() as u8).collect()
}

struct Case {
    l4: &'static str,
    port: u16,
    msgs: Vec<(bool, Vec<u8>)>,
    /// The `app_proto` Vigil must write.
    expect: &'static str,
}

fn t(to_server: bool, b: &[u8]) -> (bool, Vec<u8>) {
    (to_server, b.to_vec())
}

fn cases() -> Vec<Case> {
    let http_req = b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    let http_resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello";
    let ssh_c = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
    let ssh_s = b"SSH-2.0-OpenSSH_8.4p1 Debian-5\r\n";
    vec![
        // Protocols on ports that belong to something else.
        Case {
            l4: "tcp",
            port: 8080,
            msgs: vec![t(true, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), t(false, b"$5\r\nvalue\r\n")],
            expect: "redis",
        },
        Case { l4: "tcp", port: 5432, msgs: vec![t(true, http_req), t(false, http_resp)], expect: "http" },
        Case { l4: "tcp", port: 8000, msgs: vec![t(true, &tls_client_hello("api.example.com"))], expect: "tls" },
        Case { l4: "tcp", port: 443, msgs: vec![t(false, ssh_s), t(true, ssh_c)], expect: "ssh" },
        Case { l4: "tcp", port: 80, msgs: vec![t(false, &mysql_greeting())], expect: "mysql" },
        Case {
            l4: "tcp",
            port: 2525,
            msgs: vec![t(false, b"220 mail.example.org ESMTP Postfix\r\n"), t(true, b"EHLO client.example.org\r\n")],
            expect: "smtp",
        },
        Case { l4: "tcp", port: 6379, msgs: vec![t(true, &pg_startup())], expect: "pgsql" },
        Case { l4: "tcp", port: 9000, msgs: vec![t(true, &mqtt_connect())], expect: "mqtt" },
        Case {
            l4: "udp",
            port: 8053,
            msgs: vec![
                t(true, &dns_query(0x1234, "www.example.net")),
                t(false, &dns_answer(0x1234, "www.example.net", [192, 0, 2, 7])),
            ],
            expect: "dns",
        },
        Case { l4: "udp", port: 123, msgs: vec![t(true, &dns_query(7, "ntp.example.net"))], expect: "dns" },
        // Well-known ports carrying something else.
        Case { l4: "tcp", port: 53, msgs: vec![t(true, http_req), t(false, http_resp)], expect: "http" },
        Case { l4: "tcp", port: 443, msgs: vec![t(true, &noise(1, 300)), t(false, &noise(2, 900))], expect: "unknown" },
        Case { l4: "udp", port: 53, msgs: vec![t(true, &noise(3, 60)), t(false, &noise(4, 200))], expect: "unknown" },
        Case { l4: "tcp", port: 22, msgs: vec![t(true, &noise(5, 100)), t(false, &noise(6, 100))], expect: "unknown" },
        Case {
            l4: "tcp",
            port: 6379,
            msgs: vec![t(true, b"greetings from a line protocol\r\n"), t(false, b"nor is this one\r\n")],
            expect: "unknown",
        },
        Case { l4: "udp", port: 5353, msgs: vec![t(true, &noise(7, 80))], expect: "unknown" },
    ]
}

#[test]
fn protocols_are_named_by_payload_not_port() {
    let tmp = TempDir::new("app-ports");
    let mut traffic = Traffic::default();
    let mut rng = Rng::new(42);
    let all = cases();
    for (i, c) in all.iter().enumerate() {
        let client = (IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1 + i as u8)), 40000 + i as u16);
        let server = (IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1)), c.port);
        let t0 = 1_700_000_000_000_000_000 + i as u64 * 10_000_000_000;
        if c.l4 == "tcp" {
            traffic.tcp_dialogue(Vlan::None, client, server, &c.msgs, t0, &mut rng);
        } else {
            traffic.udp_dialogue(Vlan::None, client, server, &c.msgs, t0);
        }
    }
    traffic.sorted();
    let pcap = tmp.path("ports.pcap");
    traffic.write_pcap(&pcap).unwrap();
    let eve = tmp.path("eve.json");
    replay(&pcap, &eve, &tmp.path("stats.json"), 1);
    let events = read_eve(&eve);
    let mut failures = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let src = format!("10.1.0.{}", 1 + i);
        let flow = flow_events(&events).into_iter().find(|e| e["src_ip"] == src.as_str());
        let got = flow.and_then(|f| f["app_proto"].as_str()).unwrap_or("(none)");
        if got != c.expect {
            failures.push(format!("{} port {}: expected {}, got {got}", c.l4, c.port, c.expect));
        }
    }
    assert!(failures.is_empty(), "misidentified:\n{}", failures.join("\n"));

    // The metadata of a few of them, in Suricata's event schemas.
    let of = |kind: &str, src: &str| -> Vec<&Value> {
        events.iter().filter(|e| e["event_type"] == kind && (e["src_ip"] == src || e["dest_ip"] == src)).collect()
    };
    let http = of("http", "10.1.0.2");
    assert_eq!(http.first().map(|e| &e["http"]["hostname"]), Some(&Value::from("example.org")), "{http:?}");
    assert_eq!(http[0]["http"]["url"], "/index.html");
    assert_eq!(http[0]["http"]["status"], 200);
    let tls = of("tls", "10.1.0.3");
    assert_eq!(tls.first().map(|e| &e["tls"]["sni"]), Some(&Value::from("api.example.com")), "{tls:?}");
    let ssh = of("ssh", "10.1.0.4");
    assert_eq!(
        ssh.first().map(|e| &e["ssh"]["client"]["software_version"]),
        Some(&Value::from("OpenSSH_9.2p1")),
        "{ssh:?}"
    );
    let dns = of("dns", "10.1.0.9");
    assert!(dns.iter().any(|e| e["dns"]["rrname"] == "www.example.net"), "{dns:?}");
}
