//! RFC 6749 section 6 with the rotation RFC 9700 section 4.14.2 recommends: every refresh
//! token is used once; presenting a used one again means it leaked, so the whole grant
//! (every refresh token and, through the `gid` deny-list, every access token from it) is
//! revoked.

use super::{TokenResponse, new_refresh_token};
use crate::audit::{self, AuditEvent};
use crate::crypto::tokens::Secret;
use crate::oauth::access_token::{self, AccessTokenRequest};
use crate::oauth::client::{GrantType, RegisteredClient};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::scope::{Scope, grant_scope};
use crate::store::models::grants::{self as rows, RefreshTokenRow};

const INVALID: &str = "the refresh token is invalid, expired or revoked";

async fn revoke_family(ctx: &Ctx<'_>, grant_id: &str, client_id: &str) -> Result<(), OAuthError> {
    let (id, now) = (grant_id.to_owned(), ctx.now);
    ctx.store
        .run_revoking(move |conn| rows::revoke_grant(conn, &id, now, "refresh token reused"))
        .await
        .map_err(store_error)?;
    audit::record(
        ctx.store,
        ctx.now,
        AuditEvent::new("token.refresh_reuse")
            .actor(client_id.to_owned())
            .subject(grant_id.to_owned())
            .details(serde_json::json!({ "action": "grant revoked" })),
    )
    .await
    .map_err(store_error)?;
    tracing::warn!(grant_id, client_id, "refresh token reused: grant revoked");
    Ok(())
}

pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    presented: &Secret,
    requested: Option<&Scope>,
    audience: &str,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the refresh_token grant",
        ));
    }
    let digest = presented.digest().to_vec();
    let lookup = digest.clone();
    // The token, its grant and the grant's user in one trip to the database: the user must
    // still exist and be enabled, and roles are read fresh.
    let Some(rows::RefreshLookup { token, grant, user }) = ctx
        .store
        .run(move |conn| rows::find_refresh_token_for_use(conn, &lookup))
        .await
        .map_err(store_error)?
    else {
        return Err(OAuthError::invalid_grant(INVALID));
    };
    // Bound to its client: another client presenting it learns nothing and spends nothing.
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if token.rotated_at.is_some() {
        revoke_family(ctx, &grant.id, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if token.expires_at <= ctx.now || grant.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    let granted = Scope::parse(&grant.scope).map_err(|_| {
        tracing::error!(grant_id = %grant.id, "stored grant scope does not parse");
        OAuthError::ServerError
    })?;
    // May narrow, never widen (RFC 6749 section 6).
    let scope = grant_scope(requested, &granted)?;

    let user_id = grant
        .user_id
        .clone()
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Err(OAuthError::invalid_grant(INVALID));
    };

    let next = new_refresh_token();
    let idle = client
        .refresh_token_lifetime
        .unwrap_or(ctx.config.tokens.refresh_token_idle);
    let row = RefreshTokenRow {
        digest: next.digest().to_vec(),
        grant_id: grant.id.clone(),
        issued_at: ctx.now,
        expires_at: (ctx.now + idle).min(grant.expires_at),
        rotated_at: None,
    };
    // Signed before the rotation is stored: once it is, the old token is spent, and a
    // signing failure after that would leave the client with nothing.
    let issued = access_token::issue(
        ctx.keys,
        AccessTokenRequest {
            issuer: ctx.config.issuer.as_str(),
            subject: &user_id,
            audience,
            client_id: &client.client_id,
            scope: &scope,
            roles: user.roles,
            grant_id: Some(&grant.id),
            auth_time: grant.auth_time,
            lifetime: client
                .access_token_lifetime
                .unwrap_or(ctx.config.tokens.access_token_lifetime),
            now: ctx.now,
        },
    )?;

    // Exactly one concurrent presenter wins; the others are treated as reuse.
    let now = ctx.now;
    let won = ctx
        .store
        .run(move |conn| rows::rotate_refresh_token(conn, &digest, now, &row))
        .await
        .map_err(store_error)?;
    if !won {
        revoke_family(ctx, &grant.id, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: scope.to_string(),
        refresh_token: Some(next.expose().to_owned()),
        id_token: None,
    })
}
