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

/// The web origin (RFC 6454) of an `http` or `https` URL with a host, serialised as a
/// browser sends it in `Origin`: scheme and host in lower case, the host in its ASCII form,
/// the port only when it is not the scheme's default (`https://app.example.com`,
/// `http://localhost:3000`). `None` for anything else (a private-use scheme such as
/// `com.example.app:/cb` has no origin a browser could send).
pub fn web_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_origins_as_browsers_send_them() {
        let origin = |raw| web_origin(raw);
        assert_eq!(
            origin("https://app.example.com/callback?x=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("HTTPS://App.Example.COM:443/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("https://app.example.com:8443/cb").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/cb").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            origin("http://localhost/cb").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(origin("http://[::1]:9/").as_deref(), Some("http://[::1]:9"));
        assert_eq!(
            origin("https://bücher.example/").as_deref(),
            Some("https://xn--bcher-kva.example")
        );
        for none in [
            "com.example.app:/callback",
            "com.example.app://callback",
            "urn:ietf:wg:oauth:2.0:oob",
            "file:///etc/passwd",
            "data:text/html,x",
            "not a url",
            "",
        ] {
            assert_eq!(origin(none), None, "{none}");
        }
    }

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
