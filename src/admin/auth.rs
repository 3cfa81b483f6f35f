//! Who is calling: a Bearer access token issued by this server (RFC 9068), checked exactly
//! as `/userinfo` checks it (signature against our own keys, then what introspection
//! checks in the database), carrying the `admin` scope. The token's `roles` claim names
//! the caller's roles; they are intersected with the roles the user or client holds now,
//! so removing a role or disabling an account takes effect at once rather than when the
//! token expires. Tokens from a revoked grant are refused.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use std::future::{Ready, ready};
use std::sync::Arc;

use super::error::AdminError;
use super::rbac::{Permission, Rights, Role};
use crate::http::bearer::{Accepts, BearerError, bearer_token};
use crate::http::state::AppState;
use crate::manage::authority::{Caller, Holding};
use crate::manage::{Actor, RoleHolder};
use crate::oauth::client::client_subject;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;
use crate::oauth::userinfo;

/// The scope a token must carry to reach the admin API at all.
pub const ADMIN_SCOPE: &str = "admin";

/// An authenticated caller, put in the request by the route's guard.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `user:<id>` or `client:<client_id>`, as the audit log names it.
    pub actor: Actor,
    pub client_id: String,
    pub roles: Vec<Role>,
    /// What it holds now, for the rule against escalation (`super::rbac::Rights`).
    pub rights: Arc<Rights>,
}

impl Principal {
    pub fn allows(&self, permission: Permission) -> bool {
        self.roles.iter().any(|r| r.grants(permission))
    }

    /// The principal as the manage layer sees it: its actor and its rights, which every
    /// write to a user or client is judged by.
    pub fn caller(&self) -> Caller {
        Caller::principal(self.actor.clone(), Arc::clone(&self.rights) as _)
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

/// The roles the token claims that the principal still holds.
fn current(claimed: &[String], held: &[String]) -> Vec<String> {
    claimed
        .iter()
        .filter(|r| held.contains(r))
        .cloned()
        .collect()
}

/// The same access-token check as `/userinfo` (`crate::oauth::userinfo`), so a token
/// introspection calls inactive (revoked, its grant or user or client disabled) has no
/// admin access either; then the admin scope, and the caller's roles as held now.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Principal, BearerError> {
    let token = bearer_token(req, Accepts::Header)?;
    let ctx = state.ctx(req);
    let claims = userinfo::signed_access_token(&ctx, &token).await?;
    // Tokens minted for another resource (RFC 8707) are not for us, nor is one that some
    // other resource server could also replay here: the issuer must be its only audience.
    if !claims.aud.is_only(state.config.issuer.as_str()) {
        return Err(invalid_token());
    }

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

    userinfo::still_active(&ctx, &claims).await?;

    let (actor, holder) = match &claims.gid {
        // A user's token.
        Some(_) => (Actor::user(&claims.sub), RoleHolder::User(&claims.sub)),
        // A service account (client_credentials): the subject is the client itself.
        None => {
            if claims.sub != client_subject(&claims.client_id) {
                return Err(invalid_token());
            }
            (
                Actor::client(&claims.client_id),
                RoleHolder::Client(&claims.client_id),
            )
        }
    };
    // The caller's scopes are those of the client its token was issued to: what it could
    // be granted. Its roles are those the token claims and it still holds.
    let held = state
        .service
        .current_holding(holder, &claims.client_id)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "admin API: cannot read the caller's roles");
            BearerError::new(OAuthError::temporarily_unavailable(5))
        })?
        .ok_or_else(invalid_token)?;
    let roles = current(&claims.roles, &held.roles);
    let rights = Rights::of(&Holding {
        roles: roles.clone(),
        scopes: held.scopes,
    });
    Ok(Principal {
        actor,
        client_id: claims.client_id.clone(),
        roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
        rights: Arc::new(rights),
    })
}
