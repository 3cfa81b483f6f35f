//! Who is calling: a Bearer access token issued by this server (RFC 9068, verified
//! locally against our own keys), carrying the `admin` scope. The token's `roles` claim
//! names the caller's roles; they are intersected with the roles the user or client holds
//! now, so removing a role or disabling an account takes effect at once rather than when
//! the token expires. Tokens from a revoked grant are refused.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use std::future::{Ready, ready};

use super::error::AdminError;
use super::rbac::{Permission, Role};
use crate::app::AppState;
use crate::crypto::jwt::Expected;
use crate::http::errors::BearerError;
use crate::manage::Actor;
use crate::oauth::access_token::{AccessTokenClaims, TYP};
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;
use crate::store::StoreError;
use crate::store::models::{revocation, users};

/// The scope a token must carry to reach the admin API at all.
pub const ADMIN_SCOPE: &str = "admin";

/// An authenticated caller, put in the request by the route's guard.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `user:<id>` or `client:<client_id>`, as the audit log names it.
    pub actor: Actor,
    pub client_id: String,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn allows(&self, permission: Permission) -> bool {
        self.roles.iter().any(|r| r.grants(permission))
    }
}

/// Handlers take a `Principal` to learn who acts. Without the guard there is none, and
/// the request fails closed.
impl FromRequest for Principal {
    type Error = AdminError;
    type Future = Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Principal>().cloned().ok_or_else(|| {
            tracing::error!(path = req.path(), "admin handler reached without its guard");
            AdminError::Internal
        }))
    }
}

fn invalid_token() -> BearerError {
    BearerError::new(OAuthError::InvalidToken(
        "the access token is invalid, expired or revoked".into(),
    ))
}

fn unavailable(err: StoreError) -> BearerError {
    tracing::warn!(error = %err, "admin API: cannot check a token");
    BearerError::new(OAuthError::temporarily_unavailable(5))
}

/// The token from `Authorization: Bearer ...` (RFC 6750 section 2.1; the only method
/// accepted here: no query or form tokens on an admin API).
fn bearer_token(req: &HttpRequest) -> Result<&str, BearerError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(BearerError::missing_token());
    };
    let value = value.to_str().map_err(|_| {
        BearerError::new(OAuthError::invalid_request(
            "the Authorization header is malformed",
        ))
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                return Err(BearerError::new(OAuthError::invalid_request(
                    "the Authorization header is malformed",
                )));
            }
            Ok(token)
        }
        // Another scheme (Basic...): for this resource, no bearer token was sent.
        Some(_) | None => Err(BearerError::missing_token()),
    }
}

fn admin_roles(claimed: &[String], held: &[String]) -> Vec<Role> {
    claimed
        .iter()
        .filter(|r| held.contains(r))
        .filter_map(|r| Role::parse(r))
        .collect()
}

pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Principal, BearerError> {
    let token = bearer_token(req)?;
    let now = state.clock.now();
    let issuer = state.config.issuer.as_str();
    let claims: AccessTokenClaims = state
        .keys
        .verify(
            token,
            &Expected {
                typ: TYP,
                issuer,
                // Tokens minted for another resource (RFC 8707) are not for us.
                audience: Some(issuer),
                now,
                leeway: u32::try_from(state.config.tokens.clock_skew).unwrap_or(0),
            },
        )
        .await
        .map_err(|err| {
            tracing::info!(error = %err, "admin API: token refused");
            invalid_token()
        })?;

    let scope = Scope::parse(&claims.scope).map_err(|_| invalid_token())?;
    if !scope.contains(ADMIN_SCOPE) {
        // ADMIN_SCOPE is a constant that parses; were it ever empty, the answer is the
        // same 403 without the scope hint, which is right for a missing scope.
        let needed = Scope::parse(ADMIN_SCOPE).unwrap_or_default();
        return Err(BearerError::new(OAuthError::InsufficientScope(
            "the admin API needs the admin scope".into(),
        ))
        .with_scope(needed));
    }

    // The client the token was issued to must still exist and be enabled.
    let client = state
        .clients
        .get(&claims.client_id)
        .await
        .map_err(unavailable)?
        .filter(|c| !c.disabled)
        .ok_or_else(invalid_token)?;

    // One round trip: the deny-list (RFC 7009) and, for a user's token, its grant and
    // the user with their roles.
    let (jti, client_id) = (claims.jti.clone(), claims.client_id.clone());
    let (gid, sub) = (claims.gid.clone(), claims.sub.clone());
    let (standing, user) = state
        .store
        .run(move |conn| {
            let user_id = gid.as_ref().map(|_| sub.as_str());
            let standing =
                revocation::token_standing(conn, &jti, &client_id, user_id, gid.as_deref())?;
            let user = match user_id {
                Some(id) => users::find_by_id(conn, id)?,
                None => None,
            };
            Ok((standing, user))
        })
        .await
        .map_err(unavailable)?;
    if standing.jti_revoked {
        return Err(invalid_token());
    }

    match &claims.gid {
        // A user's token: its grant must stand and the user must be enabled.
        Some(_) => {
            let user = user
                .filter(|u| !u.row.disabled && standing.grant_active)
                .ok_or_else(invalid_token)?;
            Ok(Principal {
                actor: Actor::user(&user.row.id),
                client_id: claims.client_id.clone(),
                roles: admin_roles(&claims.roles, &user.roles),
            })
        }
        // A service account (client_credentials): the subject is the client itself.
        None => {
            if claims.sub != claims.client_id {
                return Err(invalid_token());
            }
            Ok(Principal {
                actor: Actor::client(&client.client_id),
                client_id: client.client_id.clone(),
                roles: admin_roles(&claims.roles, &client.roles),
            })
        }
    }
}
