//! RFC 6749 section 4.3, with the guardrails OAuth 2.1 asks for when the grant is kept at
//! all: confidential clients that were given the grant explicitly, brute-force throttling
//! shared with the login page, one generic error, and an audit trail.

use zeroize::Zeroizing;

use super::TokenResponse;
use super::issue::issue_for_user;
use crate::oauth::client::{RegisteredClient, resources};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::login::{self, LoginFailure};
use crate::oauth::scope::{Scope, grant_scope};

/// The one message for unknown user, wrong password, locked or disabled account.
pub const INVALID_CREDENTIALS: &str = "invalid username or password";

/// `client` may use this grant (checked at dispatch).
pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    username: &str,
    password: Zeroizing<String>,
    requested: Option<&Scope>,
    resources: &[String],
) -> Result<TokenResponse, OAuthError> {
    // OAuth 2.1 keeps this grant, if at all, for confidential clients only.
    if !client.confidential {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the password grant",
        ));
    }
    // Scope first: a bad request costs no password check and no throttling slot.
    let scope = grant_scope(requested, &client.scope)?;
    let resources = resources::grant(
        resources,
        client.resources_allowed(&ctx.config.registration),
    )?;
    let user = match login::check_password(
        ctx,
        username,
        password,
        &client.client_id,
        "password_grant",
        login::Source::Client,
    )
    .await
    {
        Ok(user) => user,
        Err(LoginFailure::Rejected) => {
            return Err(OAuthError::invalid_grant(INVALID_CREDENTIALS));
        }
        Err(LoginFailure::Unavailable(err)) => return Err(err),
    };
    // A user who must use a second factor never gets tokens from a password alone: this
    // grant has no way to carry one (SECURITY.md, Second factors). Said only after the
    // password was right, so it tells a guesser nothing.
    let factors = ctx
        .store
        .user_factors(&user.id)
        .await
        .map_err(store_error)?
        .unwrap_or_default();
    if factors.any() || crate::oauth::mfa::required_by_policy(ctx, client, &user.roles) {
        ctx.metrics
            .second_factor
            .with_label_values(&["password_grant", "refused"])
            .inc();
        return Err(OAuthError::invalid_grant(
            "this user must sign in with a second factor, which the password grant cannot \
             carry; use the authorization code flow",
        ));
    }
    let issued = issue_for_user(
        ctx, client, &user.id, user.roles, &scope, ctx.now, resources,
    )?;
    ctx.store
        .issue_user_grant(issued.grant, issued.refresh)
        .await
        .map_err(store_error)?;
    Ok(issued.response)
}
