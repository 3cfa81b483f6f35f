//! Redirect URIs: what may be registered (docs/security.md "Authorization endpoint").
//! Matching at /authorize is byte for byte against the registered string; this module
//! only decides what is acceptable to register.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
