//! Bearer tokens at the resources this server protects itself (RFC 6750): `/userinfo`
//! and the admin API read the token with the one extractor here and fail with the one
//! `BearerError`; both then verify it with the same access-token check
//! (`crate::oauth::userinfo`).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use super::errors::{bearer_challenge, status_of, with_bearer_challenge};
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormMap;
use crate::oauth::scope::Scope;

/// An error at a resource endpoint protected by a bearer token (RFC 6750 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerError {
    /// `None`: the request carried no token at all, so the challenge names no error
    /// (RFC 6750 section 3.1).
    error: Option<OAuthError>,
    /// The scope the resource needs, sent with `insufficient_scope`.
    scope: Option<Scope>,
}

impl BearerError {
    pub fn missing_token() -> Self {
        Self {
            error: None,
            scope: None,
        }
    }

    pub fn new(error: OAuthError) -> Self {
        Self {
            error: Some(error),
            scope: None,
        }
    }

    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }
}

impl From<OAuthError> for BearerError {
    fn from(error: OAuthError) -> Self {
        Self::new(error)
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(error) => fmt::Display::fmt(error, f),
            None => f.write_str("no bearer token"),
        }
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        self.error
            .as_ref()
            .map_or(StatusCode::UNAUTHORIZED, status_of)
    }

    fn error_response(&self) -> HttpResponse {
        let Some(error) = &self.error else {
            return HttpResponse::Unauthorized()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"))
                .insert_header((header::WWW_AUTHENTICATE, bearer_challenge(None, None)))
                .finish();
        };
        match error {
            OAuthError::InvalidRequest(_)
            | OAuthError::InvalidToken(_)
            | OAuthError::InsufficientScope(_) => with_bearer_challenge(error, self.scope.as_ref()),
            // Not RFC 6750 codes (server_error, temporarily_unavailable, ...): no challenge.
            OAuthError::InvalidClient { .. }
            | OAuthError::InvalidGrant(_)
            | OAuthError::UnauthorizedClient(_)
            | OAuthError::UnsupportedGrantType(_)
            | OAuthError::InvalidScope(_)
            | OAuthError::InvalidTarget(_)
            | OAuthError::AccessDenied(_)
            | OAuthError::UnsupportedResponseType(_)
            | OAuthError::ServerError
            | OAuthError::TemporarilyUnavailable { .. }
            | OAuthError::UnsupportedTokenType(_)
            | OAuthError::LoginRequired(_)
            | OAuthError::ConsentRequired(_)
            | OAuthError::InteractionRequired(_)
            | OAuthError::RequestNotSupported(_)
            | OAuthError::RequestUriNotSupported(_)
            | OAuthError::InvalidRedirectUri(_)
            | OAuthError::InvalidClientMetadata(_)
            | OAuthError::InvalidSoftwareStatement(_) => error.error_response(),
        }
    }
}

/// Where a resource accepts the token (RFC 6750 section 2). Query strings never: they end
/// up in logs.
#[derive(Debug, Clone, Copy)]
pub enum Accepts<'a> {
    /// The `Authorization: Bearer` header only (the admin API). Any other scheme counts
    /// as no token at all, so the answer names no error (RFC 6750 section 3.1).
    Header,
    /// The header or, in a form-encoded POST, the `access_token` field of this body
    /// (`/userinfo`, section 2.2). A header with another scheme is `invalid_request`;
    /// a token sent both ways is too.
    HeaderOrForm(&'a [u8]),
}

/// What the `Authorization` header holds.
enum Header<'a> {
    Absent,
    Bearer(&'a str),
    /// `Bearer` and a space, then nothing.
    EmptyBearer,
    OtherScheme,
    NotText,
}

fn header_of(req: &HttpRequest) -> Header<'_> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Header::Absent;
    };
    let Ok(value) = value.to_str() else {
        return Header::NotText;
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => match token.trim() {
            "" => Header::EmptyBearer,
            token => Header::Bearer(token),
        },
        // `Basic ...`, or a scheme with no token at all.
        Some(_) | None => Header::OtherScheme,
    }
}

fn invalid_request(description: &'static str) -> BearerError {
    BearerError::new(OAuthError::invalid_request(description))
}

/// The bearer token of a request, read as `accepts` says.
pub fn bearer_token(req: &HttpRequest, accepts: Accepts<'_>) -> Result<String, BearerError> {
    match accepts {
        Accepts::Header => match header_of(req) {
            Header::Bearer(token) => Ok(token.to_owned()),
            Header::Absent | Header::OtherScheme => Err(BearerError::missing_token()),
            Header::EmptyBearer | Header::NotText => {
                Err(invalid_request("the Authorization header is malformed"))
            }
        },
        Accepts::HeaderOrForm(body) => {
            let header_token = match header_of(req) {
                Header::Absent => None,
                Header::Bearer(token) => Some(token.to_owned()),
                Header::NotText => return Err(invalid_request("malformed Authorization header")),
                Header::EmptyBearer | Header::OtherScheme => {
                    return Err(invalid_request("use the Bearer authentication scheme"));
                }
            };
            let is_form = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let body_token = if is_form && !body.is_empty() {
                FormMap::parse(body)
                    .map_err(BearerError::new)?
                    .get("access_token")
                    .map(str::to_owned)
            } else {
                None
            };
            match (header_token, body_token) {
                (Some(_), Some(_)) => Err(invalid_request(
                    "send the access token once, in the header or the body",
                )),
                (Some(t), None) | (None, Some(t)) => Ok(t),
                (None, None) => Err(BearerError::missing_token()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::http::errors::tests::{JSON, NO_CACHE, NO_STORE, d, snapshot};

    #[actix_web::test]
    async fn bearer_codes_answer_with_a_bearer_challenge() {
        let invalid_token = OAuthError::InvalidToken(d("the access token expired"));
        let expected = (
            401,
            vec![
                NO_STORE.into(),
                JSON.into(),
                NO_CACHE.into(),
                r#"www-authenticate: Bearer realm="portcullis", error="invalid_token", error_description="the access token expired""#.into(),
            ],
            r#"{"error":"invalid_token","error_description":"the access token expired"}"#.into(),
        );
        assert_eq!(snapshot(&invalid_token).await, expected);
        assert_eq!(snapshot(&BearerError::new(invalid_token)).await, expected);

        let insufficient = OAuthError::InsufficientScope(d("the token lacks a scope"));
        assert_eq!(
            snapshot(&insufficient).await,
            (
                403,
                vec![
                    NO_STORE.into(),
                    JSON.into(),
                    NO_CACHE.into(),
                    r#"www-authenticate: Bearer realm="portcullis", error="insufficient_scope", error_description="the token lacks a scope""#.into(),
                ],
                r#"{"error":"insufficient_scope","error_description":"the token lacks a scope"}"#
                    .into()
            )
        );
        let with_scope =
            BearerError::new(insufficient).with_scope(Scope::parse("profile openid").unwrap());
        assert_eq!(
            snapshot(&with_scope).await.1.last().map(String::as_str),
            Some(
                r#"www-authenticate: Bearer realm="portcullis", error="insufficient_scope", error_description="the token lacks a scope", scope="openid profile""#
            )
        );

        let bad_request = BearerError::new(OAuthError::invalid_request(
            "the token was sent in more than one way",
        ));
        assert_eq!(
            snapshot(&bad_request).await,
            (
                400,
                vec![
                    NO_STORE.into(),
                    JSON.into(),
                    NO_CACHE.into(),
                    r#"www-authenticate: Bearer realm="portcullis", error="invalid_request", error_description="the token was sent in more than one way""#.into(),
                ],
                r#"{"error":"invalid_request","error_description":"the token was sent in more than one way"}"#
                    .into()
            )
        );
    }

    #[actix_web::test]
    async fn bearer_without_a_token_names_no_error() {
        let missing = BearerError::missing_token();
        assert_eq!(missing.to_string(), "no bearer token");
        assert_eq!(
            snapshot(&missing).await,
            (
                401,
                vec![
                    NO_STORE.into(),
                    NO_CACHE.into(),
                    r#"www-authenticate: Bearer realm="portcullis""#.into(),
                ],
                String::new()
            )
        );
    }

    #[actix_web::test]
    async fn bearer_wrapping_other_codes_is_the_plain_error() {
        let busy = OAuthError::temporarily_unavailable(2);
        assert_eq!(
            snapshot(&BearerError::new(busy.clone())).await,
            snapshot(&busy).await
        );
        assert_eq!(
            snapshot(&BearerError::new(OAuthError::ServerError)).await,
            snapshot(&OAuthError::ServerError).await
        );
        assert_eq!(
            BearerError::new(OAuthError::ServerError).to_string(),
            "server_error: the server could not complete the request"
        );
    }

    fn code(result: Result<String, BearerError>) -> Option<&'static str> {
        match result {
            Ok(_) => Some("ok"),
            Err(e) => e.error.map(|e| e.code()),
        }
    }

    #[test]
    fn header_only_treats_other_schemes_as_no_token() {
        let read = |value: Option<&str>| {
            let mut req = TestRequest::default();
            if let Some(v) = value {
                req = req.insert_header((header::AUTHORIZATION, v));
            }
            bearer_token(&req.to_http_request(), Accepts::Header)
        };
        assert_eq!(read(Some("Bearer abc")).ok().as_deref(), Some("abc"));
        assert_eq!(read(Some("bearer  abc ")).ok().as_deref(), Some("abc"));
        assert_eq!(code(read(None)), None);
        assert_eq!(code(read(Some("Basic YTpi"))), None);
        assert_eq!(code(read(Some("Bearer "))), Some("invalid_request"));
    }

    #[test]
    fn header_or_form_refuses_other_schemes_and_two_tokens() {
        let form = "application/x-www-form-urlencoded";
        let read = |value: Option<&str>, body: &[u8]| {
            let mut req = TestRequest::default().insert_header((header::CONTENT_TYPE, form));
            if let Some(v) = value {
                req = req.insert_header((header::AUTHORIZATION, v));
            }
            bearer_token(&req.to_http_request(), Accepts::HeaderOrForm(body))
        };
        assert_eq!(read(Some("Bearer abc"), b"").ok().as_deref(), Some("abc"));
        assert_eq!(read(None, b"access_token=xyz").ok().as_deref(), Some("xyz"));
        assert_eq!(code(read(None, b"")), None);
        assert_eq!(code(read(Some("Basic YTpi"), b"")), Some("invalid_request"));
        assert_eq!(
            code(read(Some("Bearer abc"), b"access_token=xyz")),
            Some("invalid_request")
        );
    }
}
