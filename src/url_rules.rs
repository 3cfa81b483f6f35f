//! Rules about URLs and hosts that configuration (the issuer) and the protocol (redirect
//! URIs) both apply. Foundation: imports nothing from the crate.

use std::net::IpAddr;

/// True for 127.0.0.0/8, ::1 and `localhost`: the hosts where plain http cannot be
/// intercepted off the machine.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> bool {
        let url = url::Url::parse(url).unwrap();
        is_loopback_host(&url.host().unwrap())
    }

    #[test]
    fn loopback_hosts() {
        assert!(host_of("http://127.0.0.1/"));
        assert!(host_of("http://127.9.9.9/"));
        assert!(host_of("http://[::1]/"));
        assert!(host_of("http://LOCALHOST/"));
        assert!(!host_of("http://localhost.example.com/"));
        assert!(!host_of("http://10.0.0.1/"));
        assert!(!host_of("http://[::2]/"));
    }
}
