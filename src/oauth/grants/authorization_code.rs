//! RFC 6749 section 4.1.3 with PKCE (RFC 7636) and OpenID Connect ID tokens, in spec
//! order: find the code (with its user, in one query), check the client, redirect_uri and
//! verifier, issue, and spend the code once in the transaction that stores the grant.
//! A second redemption means the code leaked: everything the first one issued is revoked
//! (RFC 6749 section 4.1.2, RFC 9700 section 4.5).

use super::TokenResponse;
use super::issue::issue_for_user;
use crate::accounts::Profile;
use crate::audit::{AuditActor, AuditEvent};
use crate::crypto::tokens::Secret;
use crate::oauth::client::{RegisteredClient, resources};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::oauth::scope::Scope;
use crate::oauth::token::id_token::{self, IdTokenRequest};
use crate::store::grants::{CodeRedemption, CodeUser};

const INVALID: &str = "the authorization code is invalid, expired or already used";

/// The code was presented again: the grant its first redemption created is revoked, and
/// the audit event commits with the revocation.
async fn revoke_first_exchange(
    ctx: &Ctx<'_>,
    digest: Vec<u8>,
    client_id: &str,
) -> Result<(), OAuthError> {
    ctx.store
        .revoke_code_grant_with_audit(
            digest,
            ctx.now,
            "authorization code replayed",
            AuditEvent::new("token.code_replay")
                .by(AuditActor::client(client_id))
                .details(serde_json::json!({ "action": "grant revoked" })),
        )
        .await
        .map_err(store_error)
}

/// `client` may use this grant (checked at dispatch).
pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    code: &Secret,
    redirect_uri: Option<&str>,
    code_verifier: Option<&Secret>,
    resources: &[String],
) -> Result<TokenResponse, OAuthError> {
    let digest = code.digest().to_vec();
    // The code, its user and the user's roles in one trip to the database.
    let CodeRedemption { code: row, user } = ctx
        .store
        .find_code_for_redemption(digest.clone())
        .await
        .map_err(store_error)?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;
    // Bound to the client it was issued to; another client learns nothing.
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if row.consumed {
        revoke_first_exchange(ctx, digest, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if row.expires_at <= ctx.now {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    // RFC 6749 section 4.1.3: the same redirect_uri, byte for byte, if one was sent.
    match (row.redirect_uri_given, redirect_uri) {
        (true, Some(given)) if given == row.redirect_uri => {}
        (false, None) => {}
        (false, Some(given)) if given == row.redirect_uri => {}
        (true, None) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri is required: the authorization request carried one",
            ));
        }
        (true, Some(_)) | (false, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
    }
    pkce::verify(
        row.code_challenge.as_deref(),
        code_verifier.map(Secret::expose),
    )?;
    if user.disabled {
        return Err(OAuthError::invalid_grant(INVALID));
    }

    let scope = Scope::parse(&row.scope).map_err(|_| {
        tracing::error!("stored authorization code scope does not parse");
        OAuthError::ServerError
    })?;
    // RFC 8707 section 2.2: the token request may name resources too. A code whose
    // authorization request named some is held to them; one that named none is granted
    // from the client's allow-list here, at redemption.
    let allowed = client.resources_allowed(&ctx.config.registration);
    let resources = if row.resources.is_empty() {
        resources::grant(resources, allowed)?
    } else {
        resources::narrow(resources, &row.resources, allowed)?
    };
    let user = user_view(user);
    // Signed before the code is spent: once it is, a signing failure would leave the
    // client with nothing.
    let mut issued = issue_for_user(
        ctx,
        client,
        &user.id,
        user.roles.clone(),
        &scope,
        row.auth_time,
        resources,
    )?;
    if scope.contains("openid") {
        issued.response.id_token = Some(id_token::issue(
            ctx.keys,
            IdTokenRequest {
                issuer: ctx.config.issuer.as_str(),
                client_id: &client.client_id,
                user: &user,
                scope: &scope,
                auth_time: row.auth_time,
                nonce: row.nonce,
                access_token: &issued.response.access_token,
                sid: row.sid,
                amr: row.amr,
                acr: row.acr,
                lifetime: ctx.config.tokens.id_token_lifetime,
                now: ctx.now,
            },
        )?);
    }
    // Spending the code and storing its grant commit together; of concurrent
    // redemptions exactly one wins, and the others count as a replay.
    let won = ctx
        .store
        .take_code_and_issue_grant(digest.clone(), ctx.now, issued.grant, issued.refresh)
        .await
        .map_err(store_error)?;
    if !won {
        revoke_first_exchange(ctx, digest, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }
    Ok(issued.response)
}

/// The claims source the ID token takes.
fn user_view(user: CodeUser) -> Profile {
    Profile {
        id: user.id,
        username: user.username,
        email: user.email,
        email_verified: user.email_verified,
        name: user.name,
        roles: user.roles,
    }
}
