//! The one place the token endpoint issues tokens: every grant signs its access token
//! through `access_token`, and the grants that create a user's grant (password,
//! authorization_code) build it, its refresh token and the response through
//! `issue_for_user`, then store the grant their own way (alone, or with the code it spends).

use super::{TokenResponse, new_refresh_token};
use crate::oauth::client::{GrantType, RegisteredClient};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;
use crate::oauth::token::access_token::{self, AccessTokenRequest, Audience, IssuedAccessToken};
use crate::store::grants::{NewGrant, NewRefreshToken};

/// Whom an access token speaks for.
pub(crate) struct Subject<'a> {
    /// `sub`: the user's id, or `client:<client_id>` for client_credentials (RFC 9068
    /// section 2.2; see `oauth::client::client_subject`).
    pub id: &'a str,
    pub roles: Vec<String>,
    /// The grant behind the token, so revoking the grant revokes the token.
    pub grant_id: Option<&'a str>,
    pub auth_time: Option<i64>,
}

/// Signs an access token for `client` with the client's lifetime (or the default).
pub(crate) fn access_token(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    resources: &[String],
    scope: &Scope,
    subject: Subject<'_>,
) -> Result<IssuedAccessToken, OAuthError> {
    access_token::issue(
        ctx.keys,
        AccessTokenRequest {
            issuer: ctx.config.issuer.as_str(),
            subject: subject.id,
            audience: Audience::for_resources(resources, ctx.config.issuer.as_str()),
            client_id: &client.client_id,
            client_instance: &client.instance,
            scope,
            roles: subject.roles,
            grant_id: subject.grant_id,
            auth_time: subject.auth_time,
            lifetime: access_lifetime(ctx, client),
            now: ctx.now,
        },
    )
}

fn access_lifetime(ctx: &Ctx<'_>, client: &RegisteredClient) -> i64 {
    client
        .access_token_lifetime
        .unwrap_or(ctx.config.tokens.access_token_lifetime)
}

/// When a refresh token issued now expires: after the client's idle lifetime, and never
/// after its grant.
pub(crate) fn refresh_expiry(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    grant_expires_at: i64,
) -> i64 {
    let idle = client
        .refresh_token_lifetime
        .unwrap_or(ctx.config.tokens.refresh_token_idle);
    (ctx.now + idle).min(grant_expires_at)
}

/// A user's tokens, signed, and the grant that must be stored before they are handed out.
pub(crate) struct UserIssue {
    pub response: TokenResponse,
    pub grant: NewGrant,
    pub refresh: Option<NewRefreshToken>,
}

/// Signs an access token for a user under a new grant and, when `offline_access` was
/// granted to a client that may refresh, makes a refresh token. Nothing is stored: the
/// caller stores `grant` (and `refresh`) and answers with `response` only once that worked.
/// Signing comes first, so a signing failure spends nothing.
pub(crate) fn issue_for_user(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    user_id: &str,
    roles: Vec<String>,
    scope: &Scope,
    auth_time: i64,
    resources: Vec<String>,
) -> Result<UserIssue, OAuthError> {
    let refresh = (scope.contains("offline_access")
        && client.allows_grant(GrantType::RefreshToken))
    .then(new_refresh_token);
    // Without a refresh token the grant matters only while its access token lives. The
    // grant is stored even then: its id is what revocation of this user's tokens
    // (logout, admin action) turns off.
    let grant_lifetime = if refresh.is_some() {
        ctx.config.tokens.refresh_token_absolute
    } else {
        access_lifetime(ctx, client)
    };
    let grant = NewGrant {
        id: uuid::Uuid::now_v7().to_string(),
        client_id: client.client_id.clone(),
        user_id: user_id.to_owned(),
        scope: scope.to_string(),
        auth_time,
        created_at: ctx.now,
        expires_at: ctx.now + grant_lifetime,
        resources,
    };
    let stored_refresh = refresh.as_ref().map(|r| NewRefreshToken {
        digest: r.digest().to_vec(),
        issued_at: ctx.now,
        expires_at: refresh_expiry(ctx, client, grant.expires_at),
    });
    let issued = access_token(
        ctx,
        client,
        &grant.resources,
        scope,
        Subject {
            id: user_id,
            roles,
            grant_id: Some(&grant.id),
            auth_time: Some(auth_time),
        },
    )?;
    Ok(UserIssue {
        response: TokenResponse::new(issued, scope, refresh.as_ref()),
        grant,
        refresh: stored_refresh,
    })
}
