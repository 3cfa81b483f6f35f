//! The forwarding-header parser (`http::client_ip`): `X-Forwarded-For` lines and RFC 7239
//! `Forwarded`, walked from the right past trusted proxies, then cut to the counting key.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use portcullis::config::{ProxyHeader, ProxyRange};
use portcullis::http::client_ip::{client_ip, counting_key, ignored_forwarding};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let header = if flags & 1 == 0 {
        ProxyHeader::XForwardedFor
    } else {
        ProxyHeader::Forwarded
    };
    let trusted: Vec<ProxyRange> = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST).into(),
        IpAddr::V6(Ipv6Addr::LOCALHOST).into(),
        "10.0.0.0/8".parse().unwrap(),
        "2001:db8::/64".parse().unwrap(),
    ];
    let peer = match (flags >> 1) & 3 {
        0 => None,
        1 => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        2 => Some("2001:db8::1".parse().unwrap()),
        _ => Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
    };
    let prefix = 32 + (flags >> 3) % 97; // 32..=128, what the configuration allows
    let lines: Vec<&str> = text.split('\n').collect();

    let ip = client_ip(peer, header, &lines, &trusted);
    assert_eq!(ip.is_some(), peer.is_some());
    let Some(ip) = ip else { return };
    let peer = peer.unwrap();
    let peer_trusted = trusted.iter().any(|r| r.contains(peer));
    if !peer_trusted {
        assert_eq!(ip, peer, "an untrusted peer chose its address");
    }
    assert_eq!(
        ignored_forwarding(Some(peer), true, &trusted),
        !peer_trusted
    );
    // Without header lines, the peer is the client.
    assert_eq!(client_ip(Some(peer), header, &[], &trusted), Some(peer));

    let key = counting_key(ip, prefix);
    assert_eq!(counting_key(key, prefix), key, "not idempotent");
    if let IpAddr::V6(v6) = key {
        assert!(v6.to_ipv4_mapped().is_none(), "mapped IPv4 counted as IPv6");
        let host_bits = 128 - u32::from(prefix);
        if host_bits > 0 {
            assert_eq!(u128::from(v6) & (u128::MAX >> (128 - host_bits)), 0);
        }
    }
});
