//! The SSRF guard's pure half: which URLs may be fetched (`outbound::Target::parse`) and
//! which addresses may be connected to (`outbound::address`). An accepted URL is https
//! (http only with the development setting), carries no credentials and names a host; an
//! IP literal host is judged by the same rule as a resolved address; an IPv4 address is
//! judged the same in its IPv4-mapped, NAT64 and 6to4 forms.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use portcullis::outbound::address::{check, special_use};
use portcullis::outbound::{Host, Target};

fuzz_target!(|data: &[u8]| {
    if let Some(bytes) = data.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
        let v6 = Ipv6Addr::from(bytes);
        let [a, b, c, d, e, f, g, h, ..] = bytes;
        for ip in [IpAddr::V6(v6), IpAddr::V4(Ipv4Addr::new(e, f, g, h))] {
            // Refused in production exactly when special; the development setting only
            // ever allows more, and never an address that is no one host.
            assert_eq!(check(ip, false).is_ok(), special_use(ip).is_none());
            if check(ip, false).is_ok() {
                assert!(check(ip, true).is_ok());
            }
            if check(ip, true).is_ok() {
                assert!(!ip.is_unspecified() && !ip.is_multicast());
            }
        }
        let v4 = Ipv4Addr::new(a, b, c, d);
        let direct = special_use(IpAddr::V4(v4));
        assert_eq!(special_use(IpAddr::V6(v4.to_ipv6_mapped())), direct);
        let nat64 = Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(u32::from(v4)));
        assert_eq!(special_use(IpAddr::V6(nat64)), direct);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for allow_http in [false, true] {
        let Ok(target) = Target::parse(text, allow_http) else {
            continue;
        };
        let scheme = target.url.scheme();
        assert!(
            scheme == "https" || (allow_http && scheme == "http"),
            "{text:?}"
        );
        assert!(target.url.username().is_empty() && target.url.password().is_none());
        assert_eq!(Some(target.port), target.url.port_or_known_default());
        match target.host {
            // A literal is not judged here but with the resolved addresses, by the same
            // rule; the URL's own spelling of it must not matter.
            Host::Ip(ip) => {
                let host = target.url.host_str().unwrap_or_default();
                let written = host.trim_start_matches('[').trim_end_matches(']');
                assert_eq!(written.parse::<IpAddr>().ok(), Some(ip), "{text:?}");
            }
            Host::Domain(name) => {
                assert!(!name.is_empty());
                assert!(name.parse::<IpAddr>().is_err(), "{name:?} is an IP literal");
            }
        }
    }
});
