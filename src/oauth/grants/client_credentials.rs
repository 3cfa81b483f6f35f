//! RFC 6749 section 4.4: a confidential client gets a token for itself. No resource
//! owner, so `sub` is the client (RFC 9068 section 2.2), no refresh token, and nothing is
//! written to the database.

use super::TokenResponse;
use crate::oauth::access_token::{self, AccessTokenRequest};
use crate::oauth::client::{GrantType, RegisteredClient};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::{Scope, grant_scope};

pub fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    requested: Option<&Scope>,
    audience: &str,
) -> Result<TokenResponse, OAuthError> {
    if !client.confidential || !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the client_credentials grant",
        ));
    }
    let scope = grant_scope(requested, &client.scope)?;
    let issued = access_token::issue(
        ctx.keys,
        AccessTokenRequest {
            issuer: ctx.config.issuer.as_str(),
            subject: &client.client_id,
            audience,
            client_id: &client.client_id,
            scope: &scope,
            roles: client.roles.clone(),
            grant_id: None,
            auth_time: None,
            lifetime: client
                .access_token_lifetime
                .unwrap_or(ctx.config.tokens.access_token_lifetime),
            now: ctx.now,
        },
    )?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: scope.to_string(),
        refresh_token: None,
        id_token: None,
    })
}
