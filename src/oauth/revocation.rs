//! Token revocation (RFC 7009). A refresh token takes its whole family with it (the grant,
//! so every access token issued from it fails the `gid` check); an access token goes on
//! the `jti` deny-list until it expires. Tokens we do not know are answered 200, as the
//! RFC asks. A revocation that could not be stored is an error, never a 200.

use super::client::RegisteredClient;
use super::context::{Ctx, store_error};
use super::error::OAuthError;
use super::form::FormMap;
use super::grants::REFRESH_TOKEN_PREFIX;
use super::introspection::verified_access_token;
use crate::audit::{AuditActor, AuditEvent};
use crate::crypto::tokens::Secret;

const NOT_YOURS: &str = "the token was not issued to this client";

pub async fn revoke(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    form: &FormMap,
) -> Result<(), OAuthError> {
    let token = form.require("token")?;
    // Like introspection, the hint is not needed: the token's form says what it is.
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        revoke_refresh_token(ctx, client, token).await
    } else {
        revoke_access_token(ctx, client, token).await
    }
}

async fn revoke_refresh_token(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    token: &str,
) -> Result<(), OAuthError> {
    let digest = Secret::from_presented(token).digest().to_vec();
    let Some((_, grant)) = ctx
        .store
        .find_refresh_token(digest)
        .await
        .map_err(store_error)?
    else {
        return Ok(());
    };
    if grant.client_id != client.client_id {
        return Err(OAuthError::unauthorized_client(NOT_YOURS));
    }
    if grant.revoked {
        return Ok(());
    }
    // The revocation and its audit event commit together.
    ctx.store
        .revoke_grant_with_audit(
            grant.id.clone(),
            ctx.now,
            "revoked by client",
            AuditEvent::new("token.revoked")
                .by(AuditActor::client(&client.client_id))
                .subject(grant.id)
                .details(
                    serde_json::json!({ "token": "refresh_token", "effect": "grant revoked" }),
                ),
        )
        .await
        .map_err(store_error)
}

async fn revoke_access_token(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    token: &str,
) -> Result<(), OAuthError> {
    // Forged, foreign, malformed or already expired: nothing to revoke.
    let Some(claims) = verified_access_token(ctx, token).await else {
        return Ok(());
    };
    if claims.client_id != client.client_id {
        return Err(OAuthError::unauthorized_client(NOT_YOURS));
    }
    // Kept until the token would be refused anyway (the verifier allows clock skew).
    let until = claims.exp + ctx.config.tokens.clock_skew;
    ctx.store
        .deny_access_token_with_audit(
            claims.jti.clone(),
            claims.client_id.clone(),
            ctx.now,
            until,
            AuditEvent::new("token.revoked")
                .by(AuditActor::client(&client.client_id))
                .subject(claims.jti)
                .details(serde_json::json!({ "token": "access_token" })),
        )
        .await
        .map_err(store_error)
}
