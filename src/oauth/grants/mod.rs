//! One file per grant, each reading in spec order. The token endpoint (`oauth::token`)
//! checks once that the client may use the grant before dispatching here; `issue` is the
//! one place every grant signs its access token and builds its response, and storage is
//! reached only through named `Store` operations (`store::grants`).

pub mod authorization_code;
pub mod client_credentials;
pub(crate) mod issue;
pub mod password;
pub mod refresh_token;

use serde::Serialize;

use crate::crypto::tokens::Secret;
use crate::oauth::scope::Scope;
use crate::oauth::token::access_token::IssuedAccessToken;

/// Prefix of refresh tokens, for secret scanners.
pub const REFRESH_TOKEN_PREFIX: &str = "pcr_";

/// The successful token response (RFC 6749 section 5.1).
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// The one way a grant builds its answer; an ID token is added by the grant that
    /// issues one.
    pub fn new(access: IssuedAccessToken, scope: &Scope, refresh_token: Option<&Secret>) -> Self {
        Self {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            scope: scope.to_string(),
            refresh_token: refresh_token.map(|r| r.expose().to_owned()),
            id_token: None,
        }
    }
}

pub(crate) fn new_refresh_token() -> Secret {
    Secret::generate(REFRESH_TOKEN_PREFIX)
}
