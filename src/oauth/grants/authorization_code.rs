//! RFC 6749 section 4.1.3 with PKCE (RFC 7636) and OpenID Connect ID tokens, in spec
//! order: find the code, check the client, redirect_uri and verifier, consume it once,
//! issue. A second redemption means the code leaked: everything the first one issued is
//! revoked (RFC 6749 section 4.1.2, RFC 9700 section 4.5).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TokenResponse;
use super::password::issue_for_user;
use crate::accounts::Profile;
use crate::audit::{self, AuditEvent};
use crate::crypto::tokens::Secret;
use crate::oauth::client::{GrantType, RegisteredClient};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::{self, IdTokenRequest};
use crate::oauth::scope::Scope;
use crate::store::models::authorization as rows;
use crate::store::models::grants;
use crate::store::models::users;

const INVALID: &str = "the authorization code is invalid, expired or already used";

/// RFC 7636 section 4.1: 43 to 128 characters from the unreserved set.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn revoke_first_exchange(
    ctx: &Ctx<'_>,
    digest: &[u8],
    client_id: &str,
) -> Result<(), OAuthError> {
    let d = digest.to_vec();
    let row = ctx
        .store
        .run(move |conn| rows::find_code(conn, &d))
        .await
        .map_err(store_error)?;
    if let Some(grant_id) = row.and_then(|r| r.grant_id) {
        let (id, now) = (grant_id.clone(), ctx.now);
        ctx.store
            .run_revoking(move |conn| {
                grants::revoke_grant(conn, &id, now, "authorization code replayed")
            })
            .await
            .map_err(store_error)?;
        audit::record(
            ctx.store,
            ctx.now,
            AuditEvent::new("token.code_replay")
                .actor(client_id.to_owned())
                .subject(grant_id)
                .details(serde_json::json!({ "action": "grant revoked" })),
        )
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    code: &Secret,
    redirect_uri: Option<&str>,
    code_verifier: Option<&Secret>,
    audience: &str,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the authorization_code grant",
        ));
    }
    let digest = code.digest().to_vec();
    let lookup = digest.clone();
    let row = ctx
        .store
        .run(move |conn| rows::find_code(conn, &lookup))
        .await
        .map_err(store_error)?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;
    // Bound to the client it was issued to; another client learns nothing.
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(INVALID));
    }
    if row.consumed_at.is_some() {
        revoke_first_exchange(ctx, &digest, &client.client_id).await?;
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
    match (&row.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let v = verifier.expose();
            if !valid_verifier(v) {
                return Err(OAuthError::invalid_request(
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            if !bool::from(s256(v).as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is required (PKCE)",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "a code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let user_id = row.user_id.clone();
    let user = ctx
        .store
        .run(move |conn| users::find_by_id(conn, &user_id))
        .await
        .map_err(store_error)?
        .filter(|u| !u.row.disabled)
        .ok_or_else(|| OAuthError::invalid_grant(INVALID))?;

    let grant_id = uuid::Uuid::now_v7().to_string();
    let (consume, now, gid) = (digest.clone(), ctx.now, grant_id.clone());
    let won = ctx
        .store
        .run(move |conn| rows::consume_code(conn, &consume, now, &gid))
        .await
        .map_err(store_error)?;
    if !won {
        revoke_first_exchange(ctx, &digest, &client.client_id).await?;
        return Err(OAuthError::invalid_grant(INVALID));
    }

    let scope = Scope::parse(&row.scope).map_err(|_| OAuthError::ServerError)?;
    let user: Profile = user.into();
    let mut response = issue_for_user(
        ctx,
        client,
        &grant_id,
        &user.id,
        user.roles.clone(),
        &scope,
        row.auth_time,
        audience,
    )
    .await?;
    if scope.contains("openid") {
        let amr: Vec<String> = serde_json::from_str(&row.amr).unwrap_or_default();
        response.id_token = Some(id_token::issue(
            ctx.keys,
            IdTokenRequest {
                issuer: ctx.config.issuer.as_str(),
                client_id: &client.client_id,
                user: &user,
                scope: &scope,
                auth_time: row.auth_time,
                nonce: row.nonce.clone(),
                access_token: &response.access_token,
                sid: row.sid.clone(),
                amr,
                lifetime: ctx.config.tokens.id_token_lifetime,
                now: ctx.now,
            },
        )?);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_an_independent_computation() {
        // Expected value from Python: base64url(sha256(verifier)) without padding.

        assert_eq!(
            s256("dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c"),
            "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c"
        ));
        assert!(!valid_verifier("short"));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
