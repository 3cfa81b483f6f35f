//! RFC 6749 section 4.3, with the guardrails OAuth 2.1 asks for when the grant is kept at
//! all: confidential clients that were given the grant explicitly, brute-force throttling
//! shared with the login page, one generic error, and an audit trail.

use diesel::Connection;
use zeroize::Zeroizing;

use super::{TokenResponse, new_refresh_token};
use crate::oauth::access_token::{self, AccessTokenRequest};
use crate::oauth::client::{GrantType, RegisteredClient};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::login::{self, LoginFailure};
use crate::oauth::scope::{Scope, grant_scope};
use crate::store::models::grants::{self as rows, GrantRow, RefreshTokenRow};

/// The one message for unknown user, wrong password, locked or disabled account.
pub const INVALID_CREDENTIALS: &str = "invalid username or password";

pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    username: &str,
    password: Zeroizing<String>,
    requested: Option<&Scope>,
    audience: &str,
) -> Result<TokenResponse, OAuthError> {
    if !client.confidential || !client.allows_grant(GrantType::Password) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the password grant",
        ));
    }
    // Scope first: a bad request costs no password check and no throttling slot.
    let scope = grant_scope(requested, &client.scope)?;
    let user =
        match login::check_password(ctx, username, password, &client.client_id, "password_grant")
            .await
        {
            Ok(user) => user,
            Err(LoginFailure::Rejected) => {
                return Err(OAuthError::invalid_grant(INVALID_CREDENTIALS));
            }
            Err(LoginFailure::Unavailable(err)) => return Err(err),
        };
    let grant_id = uuid::Uuid::now_v7().to_string();
    issue_for_user(
        ctx, client, &grant_id, &user.id, user.roles, &scope, ctx.now, audience,
    )
    .await
}

/// Issues an access token for a user and, when `offline_access` was granted to a client
/// that may refresh, a refresh token under a new grant.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_for_user(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    grant_id: &str,
    user_id: &str,
    roles: Vec<String>,
    scope: &Scope,
    auth_time: i64,
    audience: &str,
) -> Result<TokenResponse, OAuthError> {
    let grant_id = grant_id.to_owned();
    let refresh = (scope.contains("offline_access")
        && client.allows_grant(GrantType::RefreshToken))
    .then(new_refresh_token);
    let access_lifetime = client
        .access_token_lifetime
        .unwrap_or(ctx.config.tokens.access_token_lifetime);
    // Without a refresh token the grant matters only while its access token lives.
    let grant_lifetime = if refresh.is_some() {
        ctx.config.tokens.refresh_token_absolute
    } else {
        access_lifetime
    };
    let grant = GrantRow {
        id: grant_id.clone(),
        client_id: client.client_id.clone(),
        user_id: Some(user_id.to_owned()),
        scope: scope.to_string(),
        auth_time: Some(auth_time),
        created_at: ctx.now,
        expires_at: ctx.now + grant_lifetime,
        revoked_at: None,
        revoked_reason: None,
    };
    let idle = client
        .refresh_token_lifetime
        .unwrap_or(ctx.config.tokens.refresh_token_idle);
    let refresh_row = refresh.as_ref().map(|r| RefreshTokenRow {
        digest: r.digest().to_vec(),
        grant_id: grant_id.clone(),
        issued_at: ctx.now,
        expires_at: (ctx.now + idle).min(grant.expires_at),
        rotated_at: None,
    });
    // The grant is stored even without a refresh token: its id is what revocation of
    // this user's tokens (logout, admin action) turns off.
    // A lone insert needs no transaction around it (on Postgres that is two round trips
    // fewer); a grant with its refresh token is stored whole or not at all.
    ctx.store
        .run(move |conn| match &refresh_row {
            Some(row) => conn.transaction(|conn| {
                rows::insert_grant(conn, &grant)?;
                rows::insert_refresh_token(conn, row)
            }),
            None => rows::insert_grant(conn, &grant),
        })
        .await
        .map_err(store_error)?;
    let issued = access_token::issue(
        ctx.keys,
        AccessTokenRequest {
            issuer: ctx.config.issuer.as_str(),
            subject: user_id,
            audience,
            client_id: &client.client_id,
            scope,
            roles,
            grant_id: Some(&grant_id),
            auth_time: Some(auth_time),
            lifetime: access_lifetime,
            now: ctx.now,
        },
    )?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: scope.to_string(),
        refresh_token: refresh.map(|r| r.expose().to_owned()),
        id_token: None,
    })
}
