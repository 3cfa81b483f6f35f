//! RFC 6749 section 4.4: a confidential client gets a token for itself. No resource
//! owner, so `sub` is the client (RFC 9068 section 2.2) as `client:<client_id>`, which no
//! user id can equal; no refresh token, and nothing is written to the database.

use super::TokenResponse;
use super::issue::{self, Subject};
use crate::oauth::client::{RegisteredClient, client_subject, resources};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::{Scope, grant_scope};

/// `client` may use this grant (checked at dispatch).
pub fn exchange(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    requested: Option<&Scope>,
    resources: &[String],
) -> Result<TokenResponse, OAuthError> {
    // RFC 6749 section 4.4: confidential clients only.
    if !client.confidential {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the client_credentials grant",
        ));
    }
    let scope = grant_scope(requested, &client.scope)?;
    let resources = resources::grant(
        resources,
        client.resources_allowed(&ctx.config.registration),
    )?;
    let subject = client_subject(&client.client_id);
    let issued = issue::access_token(
        ctx,
        client,
        &resources,
        &scope,
        Subject {
            id: &subject,
            roles: client.roles.clone(),
            grant_id: None,
            auth_time: None,
        },
    )?;
    Ok(TokenResponse::new(issued, &scope, None))
}
