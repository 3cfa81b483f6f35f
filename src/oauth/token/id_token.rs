//! ID tokens (OpenID Connect Core section 2), RS256 with `kid`. `sub` is the user's stable
//! id; profile and email claims appear only when those scopes were granted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::Profile;
use crate::crypto::keystore::KeyStore;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;

/// ID tokens are plain JWTs; `at+jwt` is reserved for access tokens, so one is never
/// accepted as the other.
pub const TYP: &str = "JWT";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub azp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The assurance level reached (`oauth::mfa::level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// `at_hash`: the left half of SHA-256 of the access token, base64url (Core 3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    let left: Vec<u8> = digest.iter().take(digest.len() / 2).copied().collect();
    URL_SAFE_NO_PAD.encode(left)
}

/// Claims about the user that `scope` allows (shared with /userinfo).
pub fn profile_claims(
    user: &Profile,
    scope: &Scope,
) -> (Option<String>, Option<String>, Option<String>, Option<bool>) {
    let profile = scope.contains("profile");
    let email = scope.contains("email");
    (
        profile.then(|| user.name.clone()).flatten(),
        profile.then(|| user.username.clone()),
        email.then(|| user.email.clone()).flatten(),
        (email && user.email.is_some()).then_some(user.email_verified),
    )
}

pub struct IdTokenRequest<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a Profile,
    pub scope: &'a Scope,
    pub auth_time: i64,
    pub nonce: Option<String>,
    pub access_token: &'a str,
    pub sid: Option<String>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub lifetime: i64,
    pub now: i64,
}

pub fn issue(keys: &KeyStore, req: IdTokenRequest<'_>) -> Result<String, OAuthError> {
    let (name, preferred_username, email, email_verified) = profile_claims(req.user, req.scope);
    let claims = IdTokenClaims {
        iss: req.issuer.to_owned(),
        sub: req.user.id.clone(),
        aud: req.client_id.to_owned(),
        exp: req.now + req.lifetime,
        iat: req.now,
        auth_time: req.auth_time,
        nonce: req.nonce,
        at_hash: Some(at_hash(req.access_token)),
        azp: req.client_id.to_owned(),
        sid: req.sid,
        amr: req.amr,
        acr: req.acr,
        name,
        preferred_username,
        email,
        email_verified,
    };
    keys.sign(TYP, &claims).map_err(|err| {
        tracing::error!(error = %err, "cannot sign an ID token");
        OAuthError::temporarily_unavailable(5)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_core_example() {
        // OpenID Connect Core, appendix A.3 (RS256): access token and its at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
