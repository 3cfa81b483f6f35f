//! Redirect URIs: what may be registered, and whether a request names a registered one
//! (docs/security.md "Authorization endpoint"). [`matches`] is the one comparison for
//! `redirect_uri` at /authorize and `post_logout_redirect_uri` at /logout.

use crate::url_rules::is_loopback_host;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("is not an absolute URI")]
    NotAbsolute,
    #[error("must not contain a fragment (RFC 6749 section 3.1.2)")]
    Fragment,
    #[error("uses the forbidden scheme `{0}`")]
    ForbiddenScheme(String),
    #[error("uses plain http off loopback; use https (loopback http is allowed for native apps)")]
    PlainHttp,
    #[error(
        "uses the scheme `{0}`; private-use schemes must be reverse domain names such as com.example.app (RFC 8252 section 7.1)"
    )]
    BareCustomScheme(String),
    #[error("must not carry user information")]
    UserInfo,
    #[error("is longer than 2048 characters")]
    TooLong,
    #[error("contains whitespace or control characters")]
    BadCharacters,
}

/// Schemes that run code or read local files in a browser: never a redirect target.
const FORBIDDEN: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

pub fn validate_for_registration(raw: &str) -> Result<(), RedirectUriError> {
    if raw.len() > 2048 {
        return Err(RedirectUriError::TooLong);
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RedirectUriError::BadCharacters);
    }
    // Checked on the raw string: the parser drops an empty fragment (`...#`).
    if raw.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    let url = url::Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
    let scheme = url.scheme().to_ascii_lowercase();
    if FORBIDDEN.contains(&scheme.as_str()) {
        return Err(RedirectUriError::ForbiddenScheme(scheme));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::UserInfo);
    }
    match scheme.as_str() {
        "https" => {
            if url.host().is_none() {
                return Err(RedirectUriError::NotAbsolute);
            }
            Ok(())
        }
        "http" => match url.host() {
            Some(host) if is_loopback_host(&host) => Ok(()),
            Some(_) | None => Err(RedirectUriError::PlainHttp),
        },
        other if other.contains('.') => Ok(()),
        other => Err(RedirectUriError::BareCustomScheme(other.to_owned())),
    }
}

/// The loopback IP literals a native app may listen on (RFC 8252 section 7.3). Not
/// `localhost`: a name can be resolved elsewhere, and RFC 8252 section 8.3 advises against it.
const LOOPBACK_PREFIXES: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// Does `requested` name the `registered` redirect URI? Strings are compared byte for byte,
/// before any parsing: no case folding, no percent-decoding, no dot segments removed, no
/// default port dropped, no trailing slash or empty query ignored, since whatever a parser
/// normalises here a browser or a client may read differently (RFC 9700 section 4.1.3).
///
/// One variance only, RFC 8252 section 7.3: for an `http` loopback IP literal the port may
/// differ, because a native app gets its port from the system at run time. The port must
/// then be written plainly (one to five decimal digits, no leading zero, 1 to 65535), so
/// that nothing a parser would read as another host or port slips through.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered.as_bytes() == requested.as_bytes() {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(requested)) {
        (Some((host_a, rest_a)), Some((host_b, rest_b))) => {
            host_a == host_b && rest_a.as_bytes() == rest_b.as_bytes()
        }
        (Some(_), None) | (None, Some(_)) | (None, None) => false,
    }
}

/// `(prefix, rest)` of a loopback IP literal URI with its port (if any) taken out; None when
/// `uri` is not one, or its port is not a plain decimal port, or the authority goes on
/// after the host (`127.0.0.1.evil.example`, `127.0.0.1@evil.example`).
fn loopback_parts(uri: &str) -> Option<(&'static str, &str)> {
    let (prefix, after_host) = LOOPBACK_PREFIXES
        .iter()
        .find_map(|p| uri.strip_prefix(p).map(|rest| (*p, rest)))?;
    let rest = match after_host.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
            let (port, rest) = port_and_rest.split_at_checked(digits)?;
            if !plain_port(port) {
                return None;
            }
            rest
        }
        None => after_host,
    };
    (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then_some((prefix, rest))
}

fn plain_port(port: &str) -> bool {
    (1..=5).contains(&port.len())
        && !port.starts_with('0')
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_byte_for_byte() {
        let r = "https://app.example.com/cb";
        assert!(matches(r, r));
        for near in [
            "https://APP.example.com/cb",
            "HTTPS://app.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb/",
            "https://app.example.com:443/cb",
            "https://app.example.com/a/../cb",
            "https://app.example.com/./cb",
            "https://app.example.com/c%62",
            "https://app.example.com/cb?",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#",
            "https://app.example.com./cb",
            "https://user@app.example.com/cb",
            " https://app.example.com/cb",
            "https://app.example.com/cb ",
            "http://app.example.com/cb",
        ] {
            assert!(!matches(r, near), "{near}");
        }
    }

    #[test]
    fn loopback_ip_literals_may_vary_a_plain_port_only() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"));
        assert!(matches("http://127.0.0.1:8000/cb", "http://127.0.0.1:9/cb"));
        assert!(matches("http://127.0.0.1:8000/cb", "http://127.0.0.1/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:65535/cb"));
        assert!(matches("http://127.0.0.1", "http://127.0.0.1:4000"));
        assert!(matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:4000/cb?a=1"
        ));
        for near in [
            "http://127.0.0.1:1/other",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:080/cb",
            "http://127.0.0.1:65536/cb",
            "http://127.0.0.1:123456/cb",
            "http://127.0.0.1:+80/cb",
            "http://127.0.0.1:8%30/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://127.0.0.1@evil.example/cb",
            "http://127.0.0.1:80@evil.example/cb",
            "http://[::1]:80/cb",
            "https://127.0.0.1:80/cb",
            "HTTP://127.0.0.1:80/cb",
        ] {
            assert!(!matches("http://127.0.0.1/cb", near), "{near}");
        }
        // Names are not IP literals: `localhost` is compared like any other host.
        assert!(!matches("http://localhost/cb", "http://localhost:1/cb"));
        // Either family, but not one for the other.
        assert!(!matches("http://[::1]/cb", "http://127.0.0.1:80/cb"));
    }

    #[test]
    fn registration_rules() {
        assert_eq!(
            validate_for_registration("https://app.example.com/cb"),
            Ok(())
        );
        assert_eq!(validate_for_registration("http://127.0.0.1/cb"), Ok(()));
        assert_eq!(validate_for_registration("http://[::1]:4000/cb"), Ok(()));
        assert_eq!(
            validate_for_registration("http://localhost:3000/cb"),
            Ok(())
        );
        assert_eq!(validate_for_registration("com.example.app:/oauth"), Ok(()));
        assert_eq!(
            validate_for_registration("https://app.example.com/cb#x"),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate_for_registration("https://app.example.com/cb#"),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate_for_registration("javascript:alert(1)"),
            Err(RedirectUriError::ForbiddenScheme("javascript".into()))
        );
        assert_eq!(
            validate_for_registration("JavaScript:alert(1)"),
            Err(RedirectUriError::ForbiddenScheme("javascript".into()))
        );
        assert!(matches!(
            validate_for_registration("data:text/html,hi"),
            Err(RedirectUriError::ForbiddenScheme(_))
        ));
        assert!(matches!(
            validate_for_registration("file:///etc/passwd"),
            Err(RedirectUriError::ForbiddenScheme(_))
        ));
        assert_eq!(
            validate_for_registration("http://app.example.com/cb"),
            Err(RedirectUriError::PlainHttp)
        );
        assert_eq!(
            validate_for_registration("http://127.0.0.1.nip.io/cb"),
            Err(RedirectUriError::PlainHttp)
        );
        assert_eq!(
            validate_for_registration("/relative"),
            Err(RedirectUriError::NotAbsolute)
        );
        assert_eq!(
            validate_for_registration("https://user:pw@app.example.com/"),
            Err(RedirectUriError::UserInfo)
        );
        assert!(matches!(
            validate_for_registration("myapp:/cb"),
            Err(RedirectUriError::BareCustomScheme(_))
        ));
    }
    /// Properties over generated input: matching is exact except for a loopback IP
    /// literal's plainly written port, and never lets a request reach another host.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn path() -> impl Strategy<Value = String> {
            "(/[a-zA-Z0-9._~%-]{0,8}){0,3}(\\?[a-z=&]{0,8})?"
        }

        fn port() -> impl Strategy<Value = u16> {
            1u16..=65_535
        }

        proptest! {
            #[test]
            fn matching_is_reflexive_and_symmetric(a in any::<String>(), b in any::<String>()) {
                prop_assert!(matches(&a, &a));
                prop_assert_eq!(matches(&a, &b), matches(&b, &a));
            }

            #[test]
            fn off_loopback_only_identical_strings_match(a in "https://[a-z.]{1,12}(:[0-9]{1,5})?/[ -~]{0,12}", b in "https://[a-z.]{1,12}(:[0-9]{1,5})?/[ -~]{0,12}") {
                prop_assert_eq!(matches(&a, &b), a == b);
            }

            #[test]
            fn loopback_ports_may_vary_and_nothing_else(
                host in prop_oneof![Just("127.0.0.1"), Just("[::1]")],
                p1 in port(), p2 in port(), path in path(), other in path(),
            ) {
                let registered = format!("http://{host}:{p1}{path}");
                let same = [format!("http://{host}:{p2}{path}"), format!("http://{host}{path}")];
                for requested in &same {
                    prop_assert!(matches(&registered, requested), "{} {}", registered, requested);
                }
                let elsewhere = format!("http://{host}:{p2}{other}");
                prop_assert_eq!(matches(&registered, &elsewhere), path == other);
                let never = [
                    format!("https://{host}:{p2}{path}"),
                    format!("http://{host}:0{p2}{path}"),
                    format!("http://{host}.evil.example:{p2}{path}"),
                    format!("http://{host}:{p2}@evil.example{path}"),
                ];
                for requested in &never {
                    prop_assert!(!matches(&registered, requested), "{} {}", registered, requested);
                }
            }

            #[test]
            fn a_match_for_a_registrable_uri_is_registrable_on_the_same_host(
                registered in "(https://[a-z]{1,8}\\.example|http://127\\.0\\.0\\.1|http://\\[::1\\])(:[0-9]{1,5})?(/[ -~]{0,10})?",
                requested in "(https://[a-z]{1,8}\\.example|http://127\\.0\\.0\\.1|http://\\[::1\\]|http://127\\.0\\.0\\.1\\.evil)(:[0-9]{1,6})?[@:/?]?[ -~]{0,10}",
            ) {
                if validate_for_registration(&registered).is_ok() && matches(&registered, &requested) {
                    prop_assert!(validate_for_registration(&requested).is_ok(), "{}", requested);
                    let a = url::Url::parse(&registered).unwrap();
                    let b = url::Url::parse(&requested).unwrap();
                    prop_assert_eq!(a.host_str(), b.host_str());
                    prop_assert_eq!(a.scheme(), b.scheme());
                    prop_assert_eq!(a.path(), b.path());
                    prop_assert_eq!(a.query(), b.query());
                }
            }
        }
    }
}
