//! RFC 6749 section 6 with the rotation RFC 9700 section 4.14.2 recommends: every refresh
//! token is used once; presenting a used one again means it leaked, so the whole grant
//! (every refresh token and, through the `gid` deny-list, every access token from it) is
//! revoked.
//!
//! In spec order: find the token (with its grant, client and user as they are now), check
//! the client, spent or revoked, expiry, the client's and the user's standing, scope
//! (narrowed to what the client may still be given); sign with the user's current roles;
//! rotate once.

use super::issue::{self, Subject};
use super::{TokenResponse, new_refresh_token};
use crate::audit::{AuditActor, AuditEvent};
use crate::crypto::tokens::Secret;
use crate::oauth::client::resources::AllowList;
use crate::oauth::client::{ClientOrigin, RegisteredClient, resources};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::scope::{Scope, grant_scope};
use crate::store::grants::{NewRefreshToken, RefreshUse};

const INVALID: &str = "the refresh token is invalid, expired or revoked";
/// The scope a refresh token stands on (OIDC Core section 11).
const OFFLINE_ACCESS: &str = "offline_access";

/// A spent token came back: the grant and its audit event commit together.
async fn revoke_family(ctx: &Ctx<'_>, grant_id: &str, client_id: &str) -> Result<(), OAuthError> {
    ctx.store
        .revoke_grant_with_audit(
            grant_id.to_owned(),
            ctx.now,
            "refresh token reused",
            AuditEvent::new("token.refresh_reuse")
                .by(AuditActor::client(client_id))
                .subject(grant_id.to_owned())
                .details(serde_json::json!({ "action": "grant revoked" })),
        )
        .await
        .map_err(store_error)?;
    tracing::warn!(grant_id, client_id, "refresh token reused: grant revoked");
    Ok(())
}

/// `client` may use this grant (checked at dispatch).
pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    presented: &Secret,
    requested: Option<&Scope>,
    resources: &[String],
) -> Result<TokenResponse, OAuthError> {
    let digest = presented.digest().to_vec();
    // The token, its grant, the grant's client and user as they are now, in one trip to
    // the database: tokens follow current rights, not the rights of the day they were
    // granted (the client record `client` came from may be a few seconds old).
    let Some(RefreshUse {
        token,
        grant,
        client: current,
        user,
    }) = ctx
        .store
        .find_refresh_token_for_use(digest.clone())
        .await
        .map_err(store_error)?
    else {
        return Err(OAuthError::invalid_grant(INVALID));
    };
    // Bound to its client: another client presenting it learns nothing and spends nothing.
    // The same client_id registered anew is another client (its grants died with the old
    // row; a cached record of the old one authenticates nothing of the new one's).
    if grant.client_id != client.client_id || current.instance != client.instance {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if grant.revoked {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if token.rotated {
        revoke_family(ctx, &grant.id, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if token.expires_at <= ctx.now || grant.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    // A disabled client keeps nothing (disabling also revokes its grants; this covers a
    // client record cached from before).
    if current.disabled {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    let user_id = grant
        .user_id
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(OAuthError::invalid_grant(INVALID));
    };

    let granted = Scope::parse(&grant.scope).map_err(|_| {
        tracing::error!(grant_id = %grant.id, "stored grant scope does not parse");
        OAuthError::ServerError
    })?;
    let allowed_now = client_scopes(&grant.client_id, &current.scopes)?;
    // The refresh right itself: a client no longer allowed `offline_access` keeps no
    // refresh tokens.
    if !allowed_now.contains(OFFLINE_ACCESS) {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    // What was granted and the client may still be given; a request may narrow that,
    // never widen it (RFC 6749 section 6).
    let scope = grant_scope(requested, &granted.intersection(&allowed_now))?;
    // The same for resources (RFC 8707 section 2.2): what was granted, within the
    // client's allow-list as the database holds it now.
    let origin = ClientOrigin::parse(&current.origin).ok_or_else(|| {
        tracing::error!(client_id = %grant.client_id, "stored client origin does not parse");
        OAuthError::ServerError
    })?;
    let allowed = AllowList::for_client(origin, &current.resources, &ctx.config.registration);
    let resources = resources::narrow(resources, &grant.resources, allowed)?;

    let next = new_refresh_token();
    let successor = NewRefreshToken {
        digest: next.digest().to_vec(),
        issued_at: ctx.now,
        expires_at: issue::refresh_expiry(ctx, client, grant.expires_at),
    };
    // Signed before the rotation is stored: once it is, the old token is spent, and a
    // signing failure after that would leave the client with nothing. Roles are the
    // user's as read just now.
    let issued = issue::access_token(
        ctx,
        client,
        &resources,
        &scope,
        Subject {
            id: user_id,
            roles: user.roles,
            grant_id: Some(&grant.id),
            auth_time: grant.auth_time,
        },
    )?;

    // Exactly one concurrent presenter wins; the others are treated as reuse.
    let won = ctx
        .store
        .rotate_refresh(digest, ctx.now, grant.id.clone(), successor)
        .await
        .map_err(store_error)?;
    if !won {
        revoke_family(ctx, &grant.id, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    Ok(TokenResponse::new(issued, &scope, Some(&next)))
}

/// The scopes the client may be granted now, from the stored JSON list. A list that does
/// not parse is a corrupt row: an error, never a silently wider or narrower client.
fn client_scopes(client_id: &str, stored: &str) -> Result<Scope, OAuthError> {
    serde_json::from_str::<Vec<String>>(stored)
        .ok()
        .and_then(|list| Scope::from_tokens(list).ok())
        .ok_or_else(|| {
            tracing::error!(client_id, "stored client scopes do not parse");
            OAuthError::ServerError
        })
}
