//! Which URLs an outbound request may be made to, before any address is looked at: one
//! pure function, [`Target::parse`]. https only (http too with the development setting),
//! no credentials in the URL, a host that is a name or an IP literal, a bounded length.
//! The host's addresses are judged afterwards (`address`), once they are known.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// Longest URL fetched.
pub const MAX_URL_LEN: usize = 2048;

/// A URL that may be fetched once its host's addresses pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: Url,
    pub host: Host,
    /// The URL's port, or its scheme's.
    pub port: u16,
}

/// The URL's host, as the connection needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A name, to resolve (ASCII: the URL parser has already turned IDNs into punycode).
    Domain(String),
    /// An IP literal (including the IPv4 shorthands the URL standard reads, `127.1`,
    /// `0x7f.0.0.1`), connected to as written.
    Ip(IpAddr),
}

/// Why a URL may not be fetched at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    TooLong,
    NotAUrl,
    /// Not https (nor http with the development setting).
    Scheme,
    /// `user:password@` in the URL: never sent anywhere.
    Credentials,
    NoHost,
}

impl TargetError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLong => "the URL is too long",
            Self::NotAUrl => "it is not an absolute URL",
            Self::Scheme => "it is not an https URL",
            Self::Credentials => "it carries a user name or password",
            Self::NoHost => "it has no host",
        }
    }
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Target {
    /// `raw` as a fetchable target; `allow_http` is the development setting.
    pub fn parse(raw: &str, allow_http: bool) -> Result<Self, TargetError> {
        if raw.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let url = Url::parse(raw).map_err(|_| TargetError::NotAUrl)?;
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => allow_http,
            _ => false,
        };
        if !scheme_ok {
            return Err(TargetError::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => Host::Domain(name.to_owned()),
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) | None => return Err(TargetError::NoHost),
        };
        let port = url.port_or_known_default().ok_or(TargetError::Scheme)?;
        Ok(Self { url, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_urls_are_refused_before_any_lookup() {
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        for (url, why) in [
            ("http://app.example/c.json", TargetError::Scheme),
            ("ftp://app.example/c.json", TargetError::Scheme),
            ("file:///etc/passwd", TargetError::Scheme),
            ("gopher://127.0.0.1:6379/_INFO", TargetError::Scheme),
            ("javascript:alert(1)", TargetError::Scheme),
            ("data:application/json,{}", TargetError::Scheme),
            ("ws://app.example/", TargetError::Scheme),
            ("https://user@app.example/c.json", TargetError::Credentials),
            (
                "https://user:pw@app.example/c.json",
                TargetError::Credentials,
            ),
            ("https://:pw@app.example/c.json", TargetError::Credentials),
            ("//app.example/c.json", TargetError::NotAUrl),
            ("/c.json", TargetError::NotAUrl),
            ("https://", TargetError::NotAUrl),
            ("https://exa mple/", TargetError::NotAUrl),
            (long.as_str(), TargetError::TooLong),
        ] {
            assert_eq!(Target::parse(url, false), Err(why), "{url}");
        }
        // The development setting allows http, nothing else.
        assert!(Target::parse("http://127.0.0.1:8080/c.json", true).is_ok());
        assert_eq!(
            Target::parse("ftp://app.example/", true),
            Err(TargetError::Scheme)
        );
    }

    #[test]
    fn hosts_are_names_or_the_ip_the_url_standard_reads() {
        let host = |url: &str| Target::parse(url, false).unwrap().host;
        assert_eq!(
            host("https://App.Example/c.json"),
            Host::Domain("app.example".into())
        );
        assert_eq!(
            host("https://bücher.example/"),
            Host::Domain("xn--bcher-kva.example".into())
        );
        // Shorthand and hex IPv4 literals are IP hosts, so they are judged as addresses
        // rather than looked up as names.
        for loopback in [
            "https://127.1/",
            "https://0x7f.0.0.1/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://127.0.0.1./",
        ] {
            assert_eq!(
                host(loopback),
                Host::Ip("127.0.0.1".parse().unwrap()),
                "{loopback}"
            );
        }
        assert_eq!(
            host("https://[::ffff:169.254.169.254]/"),
            Host::Ip("::ffff:169.254.169.254".parse().unwrap())
        );
        let t = Target::parse("https://app.example:8443/c.json", false).unwrap();
        assert_eq!(t.port, 8443);
        assert_eq!(
            Target::parse("https://app.example/", false).unwrap().port,
            443
        );
        assert_eq!(Target::parse("http://app.example/", true).unwrap().port, 80);
    }
}
