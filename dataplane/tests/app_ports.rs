//! Protocols are named from their bytes, not their ports: generated conversations of real
//! protocol messages on unexpected ports are named correctly, and well-known ports that
//! carry something else do not get that port's protocol. Runs `vigil-dp replay` on a
//! generated capture and reads the EVE `flow` and protocol events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use vigil_dataplane::testgen::{Rng, Traffic, Vlan};

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

fn dns_answer(id: u16, name: &str, addr: [u8; 4]) -> Vec<u8> {
    let mut r = dns_query(id, name);
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 1; // ancount
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
    r.extend_from_slice(&addr);
    r
}

fn tls_client_hello(sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name
    let name = sni.as_bytes();
    let mut sn = vec![0u8];
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    let mut list = (sn.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&sn);
    ext.extend_from_slice(&[0, 0]);
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    // supported_groups, ec_point_formats, signature_algorithms, ALPN h2/http1.1
    ext.extend_from_slice(&[0, 10, 0, 6, 0, 4, 0, 0x1d, 0, 0x17]);
    ext.extend_from_slice(&[0, 11, 0, 2, 1, 0]);
    ext.extend_from_slice(&[0, 13, 0, 6, 0, 4, 4, 3, 8, 4]);
    ext.extend_from_slice(&[0, 16, 0, 14, 0, 12, 2, b'h', b'2', 8]);
    ext.extend_from_slice(b"http/1.1");
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2f]); // ciphers
    body.extend_from_slice(&[1, 0]); // compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn mysql_greeting() -> Vec<u8> {
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36\0");
    p.extend_from_slice(&[7, 0, 0, 0]);
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&[0xff, 0xf7, 0xff, 0x02, 0x00, 0xff, 0xdf, 21]);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    let mut m = (p.len() as u32).to_le_bytes()[..3].to_vec();
    m.push(0);
    m.extend_from_slice(&p);
    m
}

fn pg_startup() -> Vec<u8> {
    let params = b"user\0alice\0database\0shop\0\0";
    let mut m = ((8 + params.len()) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&[0, 3, 0, 0]);
    m.extend_from_slice(params);
    m
}

fn mqtt_connect() -> Vec<u8> {
    let mut v = vec![0, 4];
    v.extend_from_slice(b"MQTT");
    v.extend_from_slice(&[4, 0x02, 0, 60, 0, 6]);
    v.extend_from_slice(b"sensor");
    let mut m = vec![0x10, v.len() as u8];
    m.extend_from_slice(&v);
    m
}

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
