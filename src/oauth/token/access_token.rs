//! JWT access tokens (RFC 9068). Issuing one needs no database write: everything a
//! resource server needs is in the signed claims, and revocation works through the grant
//! id (`gid`) deny-list for tokens that came from a user's grant.

use serde::{Deserialize, Serialize};

use crate::crypto::keystore::KeyStore;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;

/// The `typ` header RFC 9068 section 2.1 requires.
pub const TYP: &str = "at+jwt";

/// `aud` (RFC 7519 section 4.1.3): this server's issuer for a token without resource
/// indicators, else the granted resources (RFC 8707 section 2.2): a string for one, an
/// array for several.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The audience of a token granted `resources`; none means this server.
    pub fn for_resources(resources: &[String], issuer: &str) -> Self {
        match resources {
            [] => Self::One(issuer.to_owned()),
            [one] => Self::One(one.clone()),
            [_, _, ..] => Self::Many(resources.to_vec()),
        }
    }

    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }

    /// Whether `audience` is the only one: a token also valid elsewhere is not only ours.
    pub fn is_only(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().all(|a| a == audience) && !many.is_empty(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The grant this token came from, so revoking the grant revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Which registration of `client_id` the token was issued to (a private claim): a
    /// client deleted and registered again under the same id has another, so the old
    /// registration's tokens stay dead. Required: a token without it is not ours.
    pub client_instance: String,
}

pub struct AccessTokenRequest<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub audience: Audience,
    pub client_id: &'a str,
    pub client_instance: &'a str,
    pub scope: &'a Scope,
    pub roles: Vec<String>,
    pub grant_id: Option<&'a str>,
    pub auth_time: Option<i64>,
    pub lifetime: i64,
    pub now: i64,
}

pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in: i64,
    pub claims: AccessTokenClaims,
}

pub fn issue(
    keys: &KeyStore,
    req: AccessTokenRequest<'_>,
) -> Result<IssuedAccessToken, OAuthError> {
    let claims = AccessTokenClaims {
        iss: req.issuer.to_owned(),
        sub: req.subject.to_owned(),
        aud: req.audience,
        client_id: req.client_id.to_owned(),
        scope: req.scope.to_string(),
        exp: req.now + req.lifetime,
        iat: req.now,
        jti: uuid::Uuid::now_v7().to_string(),
        roles: req.roles,
        gid: req.grant_id.map(str::to_owned),
        auth_time: req.auth_time,
        client_instance: req.client_instance.to_owned(),
    };
    let token = keys.sign(TYP, &claims).map_err(|err| {
        tracing::error!(error = %err, "cannot sign an access token");
        OAuthError::temporarily_unavailable(5)
    })?;
    Ok(IssuedAccessToken {
        token,
        expires_in: req.lifetime,
        claims,
    })
}
