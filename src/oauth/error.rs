//! The error vocabulary of the protocol: one variant per registered error code (docs/architecture.md, convention 2).
//!
//! RFC 6749 sections 4.1.2.1 and 5.2, RFC 6750 section 3.1, RFC 7009 section 2.2.1,
//! RFC 7591 section 3.2.2 and OpenID Connect Core section 3.1.2.6. The mapping to HTTP (status, body, headers) lives in
//! `crate::http::errors` and nowhere else.

use std::borrow::Cow;
use std::fmt;

/// Longest `error_description` we send; long enough for a sentence naming a parameter.
const MAX_DESCRIPTION_LEN: usize = 256;

/// A human-readable `error_description` that is safe to send.
///
/// RFC 6749 section 5.2 limits the value to `%x20-21 / %x23-5B / %x5D-7E`; anything else is
/// replaced at construction so that the JSON body and a quoted `WWW-Authenticate`
/// parameter never need escaping. It names parameters, never their values: descriptions
/// must not carry a secret, a token or an internal cause.
#[derive(Clone, PartialEq, Eq)]
pub struct Description(Cow<'static, str>);

impl Description {
    pub fn new(text: impl Into<Cow<'static, str>>) -> Self {
        let text = text.into();
        let clean = text.len() <= MAX_DESCRIPTION_LEN && text.bytes().all(is_description_byte);
        if clean {
            return Self(text);
        }
        let mut out = String::with_capacity(text.len().min(MAX_DESCRIPTION_LEN));
        for c in text.chars() {
            if out.len() >= MAX_DESCRIPTION_LEN {
                break;
            }
            out.push(match c {
                '"' => '\'',
                '\\' => '/',
                c if c.is_ascii() && is_description_byte(c as u8) => c,
                _ => '?',
            });
        }
        Self(Cow::Owned(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_description_byte(b: u8) -> bool {
    b == 0x20 || b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

impl From<&'static str> for Description {
    fn from(text: &'static str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Description {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl fmt::Debug for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What `server_error` says; the cause stays in the caller's log.
const SERVER_ERROR_DESCRIPTION: &str = "the server could not complete the request";

/// Same text for every client-authentication failure, so a caller learns nothing about
/// which client ids exist, are disabled, or use which method.
pub const CLIENT_AUTHENTICATION_FAILED: &str = "client authentication failed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// `invalid_request` (RFC 6749 sections 4.1.2.1, 5.2; RFC 6750 section 3.1).
    InvalidRequest(Description),
    /// `invalid_client` (RFC 6749 section 5.2). `basic_used`: the client tried the
    /// `Authorization` header, so the answer must carry a `Basic` challenge.
    InvalidClient {
        description: Description,
        basic_used: bool,
    },
    /// `invalid_grant` (RFC 6749 section 5.2).
    InvalidGrant(Description),
    /// `unauthorized_client` (RFC 6749 sections 4.1.2.1, 5.2).
    UnauthorizedClient(Description),
    /// `unsupported_grant_type` (RFC 6749 section 5.2).
    UnsupportedGrantType(Description),
    /// `invalid_scope` (RFC 6749 sections 4.1.2.1, 5.2).
    InvalidScope(Description),
    /// `invalid_target` (RFC 8707 section 2): a `resource` that is malformed or not one
    /// this client may name.
    InvalidTarget(Description),
    /// `access_denied` (RFC 6749 section 4.1.2.1).
    AccessDenied(Description),
    /// `unsupported_response_type` (RFC 6749 section 4.1.2.1).
    UnsupportedResponseType(Description),
    /// `server_error` (RFC 6749 section 4.1.2.1). Carries nothing: the caller logs the
    /// cause before returning this.
    ServerError,
    /// `temporarily_unavailable` (RFC 6749 section 4.1.2.1), e.g. the password-hashing pool
    /// is full or the database is down.
    TemporarilyUnavailable {
        description: Description,
        retry_after_secs: u32,
        /// Refused for this client's address (429, RFC 6585) rather than for the server's
        /// state (503): failed client authentication from the address filled its bucket.
        too_many_requests: bool,
    },
    /// `invalid_token` (RFC 6750 section 3.1).
    InvalidToken(Description),
    /// `insufficient_scope` (RFC 6750 section 3.1).
    InsufficientScope(Description),
    /// `unsupported_token_type` (RFC 7009 section 2.2.1).
    UnsupportedTokenType(Description),
    /// `login_required` (OpenID Connect Core section 3.1.2.6).
    LoginRequired(Description),
    /// `consent_required` (OpenID Connect Core section 3.1.2.6).
    ConsentRequired(Description),
    /// `interaction_required` (OpenID Connect Core section 3.1.2.6).
    InteractionRequired(Description),
    /// `request_not_supported` (OpenID Connect Core section 3.1.2.6).
    RequestNotSupported(Description),
    /// `request_uri_not_supported` (OpenID Connect Core section 3.1.2.6).
    RequestUriNotSupported(Description),
    /// `invalid_redirect_uri` (RFC 7591 section 3.2.2): a redirection URI a registration
    /// may not have.
    InvalidRedirectUri(Description),
    /// `invalid_client_metadata` (RFC 7591 section 3.2.2): any other metadata value the
    /// registration policy refuses.
    InvalidClientMetadata(Description),
    /// `invalid_software_statement` (RFC 7591 section 3.2.2): this server accepts none.
    InvalidSoftwareStatement(Description),
}

impl OAuthError {
    pub fn invalid_request(description: impl Into<Description>) -> Self {
        Self::InvalidRequest(description.into())
    }

    /// The generic client-authentication failure; see [`CLIENT_AUTHENTICATION_FAILED`].
    pub fn invalid_client(basic_used: bool) -> Self {
        Self::InvalidClient {
            description: Description::new(CLIENT_AUTHENTICATION_FAILED),
            basic_used,
        }
    }

    pub fn invalid_grant(description: impl Into<Description>) -> Self {
        Self::InvalidGrant(description.into())
    }

    pub fn invalid_scope(description: impl Into<Description>) -> Self {
        Self::InvalidScope(description.into())
    }

    pub fn invalid_client_metadata(description: impl Into<Description>) -> Self {
        Self::InvalidClientMetadata(description.into())
    }

    pub fn invalid_redirect_uri(description: impl Into<Description>) -> Self {
        Self::InvalidRedirectUri(description.into())
    }

    pub fn invalid_token(description: impl Into<Description>) -> Self {
        Self::InvalidToken(description.into())
    }

    pub fn unauthorized_client(description: impl Into<Description>) -> Self {
        Self::UnauthorizedClient(description.into())
    }

    pub fn temporarily_unavailable(retry_after_secs: u32) -> Self {
        Self::TemporarilyUnavailable {
            description: Description::new("the server is busy; retry later"),
            retry_after_secs,
            too_many_requests: false,
        }
    }

    /// 429 with `Retry-After`: this address has failed client authentication too often.
    /// The code stays `temporarily_unavailable`, as the per-endpoint buckets answer:
    /// `invalid_client` would tell a client with the right secret that its secret is wrong.
    pub fn too_many_client_auth_failures(retry_after_secs: u32) -> Self {
        Self::TemporarilyUnavailable {
            description: Description::new(
                "too many failed client authentications from this address; retry later",
            ),
            retry_after_secs,
            too_many_requests: true,
        }
    }

    /// The registered error code, as sent in `error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::AccessDenied(_) => "access_denied",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable { .. } => "temporarily_unavailable",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::LoginRequired(_) => "login_required",
            Self::ConsentRequired(_) => "consent_required",
            Self::InteractionRequired(_) => "interaction_required",
            Self::RequestNotSupported(_) => "request_not_supported",
            Self::RequestUriNotSupported(_) => "request_uri_not_supported",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::InvalidSoftwareStatement(_) => "invalid_software_statement",
        }
    }

    /// The `error_description`, or `None` when there is nothing useful to say (an empty
    /// description is omitted from the response rather than sent empty).
    pub fn description(&self) -> Option<&str> {
        let text = match self {
            Self::ServerError => SERVER_ERROR_DESCRIPTION,
            Self::InvalidClient { description, .. }
            | Self::TemporarilyUnavailable { description, .. }
            | Self::InvalidRequest(description)
            | Self::InvalidGrant(description)
            | Self::UnauthorizedClient(description)
            | Self::UnsupportedGrantType(description)
            | Self::InvalidScope(description)
            | Self::InvalidTarget(description)
            | Self::AccessDenied(description)
            | Self::UnsupportedResponseType(description)
            | Self::InvalidToken(description)
            | Self::InsufficientScope(description)
            | Self::UnsupportedTokenType(description)
            | Self::LoginRequired(description)
            | Self::ConsentRequired(description)
            | Self::InteractionRequired(description)
            | Self::RequestNotSupported(description)
            | Self::RequestUriNotSupported(description)
            | Self::InvalidRedirectUri(description)
            | Self::InvalidClientMetadata(description)
            | Self::InvalidSoftwareStatement(description) => description.as_str(),
        };
        (!text.is_empty()).then_some(text)
    }

    /// The HTTP status when the error is answered directly (token, introspection,
    /// revocation and resource endpoints); errors sent back through a redirect ignore it.
    pub fn status(&self) -> u16 {
        match self {
            // RFC 6749 section 5.2 requires 401 after a Basic attempt and allows it for every
            // other invalid_client; one status for all keeps client libraries' handling simple.
            Self::InvalidClient { .. } | Self::InvalidToken(_) => 401,
            Self::InsufficientScope(_) => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable {
                too_many_requests, ..
            } => {
                if *too_many_requests {
                    429
                } else {
                    503
                }
            }
            Self::InvalidRequest(_)
            | Self::InvalidGrant(_)
            | Self::UnauthorizedClient(_)
            | Self::UnsupportedGrantType(_)
            | Self::InvalidScope(_)
            | Self::InvalidTarget(_)
            | Self::AccessDenied(_)
            | Self::UnsupportedResponseType(_)
            | Self::UnsupportedTokenType(_)
            | Self::LoginRequired(_)
            | Self::ConsentRequired(_)
            | Self::InteractionRequired(_)
            | Self::RequestNotSupported(_)
            | Self::RequestUriNotSupported(_)
            | Self::InvalidRedirectUri(_)
            | Self::InvalidClientMetadata(_)
            | Self::InvalidSoftwareStatement(_) => 400,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(description) => write!(f, "{}: {description}", self.code()),
            None => f.write_str(self.code()),
        }
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &'static str) -> Description {
        Description::new(text)
    }

    /// Every variant once, with the code, status and description it must produce.
    fn every_variant() -> Vec<OAuthError> {
        vec![
            OAuthError::InvalidRequest(d("r")),
            OAuthError::InvalidClient {
                description: d("c"),
                basic_used: false,
            },
            OAuthError::InvalidClient {
                description: d("c"),
                basic_used: true,
            },
            OAuthError::InvalidGrant(d("g")),
            OAuthError::UnauthorizedClient(d("u")),
            OAuthError::UnsupportedGrantType(d("t")),
            OAuthError::InvalidScope(d("s")),
            OAuthError::InvalidTarget(d("tg")),
            OAuthError::AccessDenied(d("a")),
            OAuthError::UnsupportedResponseType(d("rt")),
            OAuthError::ServerError,
            OAuthError::TemporarilyUnavailable {
                description: d("busy"),
                retry_after_secs: 3,
                too_many_requests: false,
            },
            OAuthError::InvalidToken(d("it")),
            OAuthError::InsufficientScope(d("is")),
            OAuthError::UnsupportedTokenType(d("utt")),
            OAuthError::LoginRequired(d("lr")),
            OAuthError::ConsentRequired(d("cr")),
            OAuthError::InteractionRequired(d("ir")),
            OAuthError::RequestNotSupported(d("rn")),
            OAuthError::RequestUriNotSupported(d("ru")),
            OAuthError::InvalidRedirectUri(d("iru")),
            OAuthError::InvalidClientMetadata(d("icm")),
            OAuthError::InvalidSoftwareStatement(d("iss")),
        ]
    }

    #[test]
    fn codes_and_statuses() {
        let got: Vec<(&str, u16)> = every_variant()
            .iter()
            .map(|e| (e.code(), e.status()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("invalid_request", 400),
                ("invalid_client", 401),
                ("invalid_client", 401),
                ("invalid_grant", 400),
                ("unauthorized_client", 400),
                ("unsupported_grant_type", 400),
                ("invalid_scope", 400),
                ("invalid_target", 400),
                ("access_denied", 400),
                ("unsupported_response_type", 400),
                ("server_error", 500),
                ("temporarily_unavailable", 503),
                ("invalid_token", 401),
                ("insufficient_scope", 403),
                ("unsupported_token_type", 400),
                ("login_required", 400),
                ("consent_required", 400),
                ("interaction_required", 400),
                ("request_not_supported", 400),
                ("request_uri_not_supported", 400),
                ("invalid_redirect_uri", 400),
                ("invalid_client_metadata", 400),
                ("invalid_software_statement", 400),
            ]
        );
    }

    #[test]
    fn server_error_never_carries_a_cause() {
        let e = OAuthError::ServerError;
        assert_eq!(
            e.description(),
            Some("the server could not complete the request")
        );
        assert_eq!(
            e.to_string(),
            "server_error: the server could not complete the request"
        );
    }

    #[test]
    fn empty_description_is_omitted() {
        let e = OAuthError::InvalidGrant(d(""));
        assert_eq!(e.description(), None);
        assert_eq!(e.to_string(), "invalid_grant");
    }

    #[test]
    fn constructors() {
        assert_eq!(
            OAuthError::invalid_client(true),
            OAuthError::InvalidClient {
                description: d("client authentication failed"),
                basic_used: true
            }
        );
        assert_eq!(
            OAuthError::invalid_request("x").to_string(),
            "invalid_request: x"
        );
        assert_eq!(
            OAuthError::invalid_grant("x").to_string(),
            "invalid_grant: x"
        );
        assert_eq!(
            OAuthError::invalid_scope("x").to_string(),
            "invalid_scope: x"
        );
        assert_eq!(
            OAuthError::unauthorized_client("x").to_string(),
            "unauthorized_client: x"
        );
        assert_eq!(
            OAuthError::temporarily_unavailable(7),
            OAuthError::TemporarilyUnavailable {
                description: d("the server is busy; retry later"),
                retry_after_secs: 7,
                too_many_requests: false,
            }
        );
    }

    #[test]
    fn descriptions_stay_in_the_rfc_character_set() {
        assert_eq!(d("plain `text` ok").as_str(), "plain `text` ok");
        assert_eq!(
            Description::new("say \"hi\" \\ now").as_str(),
            "say 'hi' / now"
        );
        assert_eq!(Description::new("caf\u{e9}\n\t!").as_str(), "caf???!");
        let long = "x".repeat(1000);
        assert_eq!(Description::new(long).as_str().len(), 256);
        assert!(matches!(d("static").0, Cow::Borrowed(_)));
        for e in every_variant() {
            let text = e.description().unwrap_or_default();
            assert!(text.bytes().all(is_description_byte), "{text}");
        }
    }
}
