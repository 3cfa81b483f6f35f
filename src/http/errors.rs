//! The one place protocol errors become HTTP responses (docs/architecture.md, convention 2).
//!
//! Token, introspection and revocation endpoints answer with [`OAuthError`] (RFC 6749
//! section 5.2); resource endpoints such as userinfo answer with `super::bearer::BearerError`
//! (RFC 6750 section 3), rendered by the helpers here. Errors sent back through a redirect
//! are not built here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;

use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;

pub(super) const REALM: &str = "portcullis";

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

pub(super) fn status_of(error: &OAuthError) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Status and the headers every error carries: responses about credentials are never cached
/// (RFC 6749 section 5.1; `Pragma` for HTTP/1.0 caches).
pub(super) fn builder(error: &OAuthError) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status_of(error));
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if let OAuthError::TemporarilyUnavailable {
        retry_after_secs, ..
    } = error
    {
        response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
    }
    response
}

fn json_body(error: &OAuthError) -> Vec<u8> {
    let body = ErrorBody {
        error: error.code(),
        error_description: error.description(),
    };
    // Serialising two strings cannot fail; if it somehow did, the code alone still parses.
    serde_json::to_vec(&body)
        .unwrap_or_else(|_| format!(r#"{{"error":"{}"}}"#, error.code()).into_bytes())
}

pub(super) fn respond_json(mut response: HttpResponseBuilder, error: &OAuthError) -> HttpResponse {
    response
        .content_type("application/json")
        .body(json_body(error))
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        status_of(self)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            // These two exist only in RFC 6750's vocabulary: answer with its challenge so a
            // 401 never lacks one.
            OAuthError::InvalidToken(_) | OAuthError::InsufficientScope(_) => {
                with_bearer_challenge(self, None)
            }
            // RFC 6749 section 5.2 requires the challenge when Basic was tried; RFC 9110
            // section 15.5.2 requires one on every 401, so it is always sent.
            OAuthError::InvalidClient { .. } => {
                let mut response = builder(self);
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(r#"Basic realm="{REALM}""#),
                ));
                respond_json(response, self)
            }
            OAuthError::InvalidRequest(_)
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
            | OAuthError::InvalidSoftwareStatement(_) => respond_json(builder(self), self),
        }
    }
}

/// `Bearer realm="portcullis", error="...", error_description="...", scope="..."`.
/// Descriptions and scope tokens exclude `"` and `\` by construction, so no escaping.
pub(super) fn bearer_challenge(error: Option<&OAuthError>, scope: Option<&Scope>) -> String {
    let mut challenge = format!(r#"Bearer realm="{REALM}""#);
    if let Some(error) = error {
        challenge.push_str(&format!(r#", error="{}""#, error.code()));
        if let Some(description) = error.description() {
            challenge.push_str(&format!(r#", error_description="{description}""#));
        }
    }
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        challenge.push_str(&format!(r#", scope="{scope}""#));
    }
    challenge
}

/// An RFC 6750 error (`invalid_request`, `invalid_token`, `insufficient_scope`) with its
/// challenge, so that a 401 never lacks one.
pub(super) fn with_bearer_challenge(error: &OAuthError, scope: Option<&Scope>) -> HttpResponse {
    let mut response = builder(error);
    // Built from the RFC character set only; a failure would be our bug, and the response
    // is still correct without the header.
    if let Ok(value) = HeaderValue::from_str(&bearer_challenge(Some(error), scope)) {
        response.insert_header((header::WWW_AUTHENTICATE, value));
    }
    respond_json(response, error)
}

#[cfg(test)]
pub(super) mod tests {
    use actix_web::body::to_bytes;

    use super::*;
    use crate::oauth::error::Description;

    /// Status, every header (sorted, as `name: value`) and the body as text. (The bearer
    /// tests in `bearer.rs` pin their responses with it too.)
    pub(in crate::http) async fn snapshot(
        error: &impl ResponseError,
    ) -> (u16, Vec<String>, String) {
        let response = error.error_response();
        let status = response.status().as_u16();
        assert_eq!(status, error.status_code().as_u16());
        let mut headers: Vec<String> = response
            .headers()
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect();
        headers.sort();
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    pub(in crate::http) fn d(text: &'static str) -> Description {
        Description::new(text)
    }

    pub(in crate::http) const JSON: &str = "content-type: application/json";
    pub(in crate::http) const NO_STORE: &str = "cache-control: no-store";
    pub(in crate::http) const NO_CACHE: &str = "pragma: no-cache";

    /// The plain JSON errors: same headers, status by code.
    #[actix_web::test]
    async fn plain_json_errors() {
        let cases: Vec<(OAuthError, u16, &str)> = vec![
            (
                OAuthError::InvalidRequest(d("missing parameter `code`")),
                400,
                r#"{"error":"invalid_request","error_description":"missing parameter `code`"}"#,
            ),
            (
                OAuthError::InvalidGrant(d("the code is invalid or expired")),
                400,
                r#"{"error":"invalid_grant","error_description":"the code is invalid or expired"}"#,
            ),
            (
                OAuthError::UnauthorizedClient(d("the client may not use this grant")),
                400,
                r#"{"error":"unauthorized_client","error_description":"the client may not use this grant"}"#,
            ),
            (
                OAuthError::UnsupportedGrantType(d("no")),
                400,
                r#"{"error":"unsupported_grant_type","error_description":"no"}"#,
            ),
            (
                OAuthError::InvalidScope(d("scope not allowed for this client: admin")),
                400,
                r#"{"error":"invalid_scope","error_description":"scope not allowed for this client: admin"}"#,
            ),
            (
                OAuthError::AccessDenied(d("the user denied the request")),
                400,
                r#"{"error":"access_denied","error_description":"the user denied the request"}"#,
            ),
            (
                OAuthError::UnsupportedResponseType(d("only code")),
                400,
                r#"{"error":"unsupported_response_type","error_description":"only code"}"#,
            ),
            (
                OAuthError::ServerError,
                500,
                r#"{"error":"server_error","error_description":"the server could not complete the request"}"#,
            ),
            (
                OAuthError::UnsupportedTokenType(d("t")),
                400,
                r#"{"error":"unsupported_token_type","error_description":"t"}"#,
            ),
            (
                OAuthError::LoginRequired(d("l")),
                400,
                r#"{"error":"login_required","error_description":"l"}"#,
            ),
            (
                OAuthError::ConsentRequired(d("c")),
                400,
                r#"{"error":"consent_required","error_description":"c"}"#,
            ),
            (
                OAuthError::InteractionRequired(d("i")),
                400,
                r#"{"error":"interaction_required","error_description":"i"}"#,
            ),
            (
                OAuthError::RequestNotSupported(d("r")),
                400,
                r#"{"error":"request_not_supported","error_description":"r"}"#,
            ),
            (
                OAuthError::RequestUriNotSupported(d("u")),
                400,
                r#"{"error":"request_uri_not_supported","error_description":"u"}"#,
            ),
            (
                OAuthError::InvalidGrant(d("")),
                400,
                r#"{"error":"invalid_grant"}"#,
            ),
            (
                OAuthError::InvalidRedirectUri(d("redirect_uris: use https")),
                400,
                r#"{"error":"invalid_redirect_uri","error_description":"redirect_uris: use https"}"#,
            ),
            (
                OAuthError::InvalidClientMetadata(d("scope: admin is not allowed")),
                400,
                r#"{"error":"invalid_client_metadata","error_description":"scope: admin is not allowed"}"#,
            ),
            (
                OAuthError::InvalidSoftwareStatement(d("no")),
                400,
                r#"{"error":"invalid_software_statement","error_description":"no"}"#,
            ),
        ];
        for (error, status, body) in cases {
            assert_eq!(
                snapshot(&error).await,
                (
                    status,
                    vec![NO_STORE.into(), JSON.into(), NO_CACHE.into()],
                    body.into()
                ),
                "{error:?}"
            );
        }
    }

    #[actix_web::test]
    async fn invalid_client_always_carries_a_challenge() {
        // With or without Basic: every 401 names a scheme (RFC 9110 section 15.5.2).
        for basic_used in [true, false] {
            assert_eq!(
            snapshot(&OAuthError::invalid_client(basic_used)).await,
            (
                401,
                vec![
                    NO_STORE.into(),
                    JSON.into(),
                    NO_CACHE.into(),
                    r#"www-authenticate: Basic realm="portcullis""#.into(),
                ],
                r#"{"error":"invalid_client","error_description":"client authentication failed"}"#
                    .into()
            )
        );
        }
    }

    #[actix_web::test]
    async fn temporarily_unavailable_carries_retry_after() {
        assert_eq!(
            snapshot(&OAuthError::temporarily_unavailable(5)).await,
            (
                503,
                vec![
                    NO_STORE.into(),
                    JSON.into(),
                    NO_CACHE.into(),
                    "retry-after: 5".into(),
                ],
                r#"{"error":"temporarily_unavailable","error_description":"the server is busy; retry later"}"#
                    .into()
            )
        );
    }

    #[actix_web::test]
    async fn descriptions_cannot_break_the_body_or_the_header() {
        let hostile = OAuthError::InvalidToken(Description::new(
            "a\"b\\c\r\nSet-Cookie: x=1 \u{e9}".to_owned(),
        ));
        let (_, headers, body) = snapshot(&hostile).await;
        assert_eq!(
            body,
            r#"{"error":"invalid_token","error_description":"a'b/c??Set-Cookie: x=1 ?"}"#
        );
        assert_eq!(
            headers.last().map(String::as_str),
            Some(
                r#"www-authenticate: Bearer realm="portcullis", error="invalid_token", error_description="a'b/c??Set-Cookie: x=1 ?""#
            )
        );
    }
}
