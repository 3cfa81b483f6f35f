//! The token endpoint (RFC 6749 section 3.2): authenticate the client, parse the request,
//! check once that the client may use the grant, dispatch to the grant's module. The HTTP
//! layer only extracts and maps the result.

pub mod access_token;
pub mod id_token;
pub mod request;

use super::client::caller;
use super::context::Ctx;
use super::error::OAuthError;
use super::form::FormMap;
use super::grants::{self, TokenResponse};
use request::{GrantRequest, TokenRequest};

pub async fn exchange(
    ctx: &Ctx<'_>,
    authorization: Option<&str>,
    form: &FormMap,
) -> Result<TokenResponse, OAuthError> {
    let client = caller::authenticate(ctx, authorization, form).await?;
    let client = client.as_ref();
    let request = TokenRequest::parse(form)?;
    let grant = request.grant_type();
    // RFC 6749 section 5.2: a grant the client was not given is `unauthorized_client`.
    if !client.allows_grant(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant} grant"
        )));
    }
    let resources = request.resources.as_slice();
    let response = match &request.grant {
        GrantRequest::ClientCredentials { scope } => {
            grants::client_credentials::exchange(ctx, client, scope.as_ref(), resources)
        }
        GrantRequest::Password {
            username,
            password,
            scope,
        } => {
            let password = zeroize::Zeroizing::new(password.expose().to_owned());
            grants::password::exchange(ctx, client, username, password, scope.as_ref(), resources)
                .await
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            grants::refresh_token::exchange(ctx, client, refresh_token, scope.as_ref(), resources)
                .await
        }
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            grants::authorization_code::exchange(
                ctx,
                client,
                code,
                redirect_uri.as_deref(),
                code_verifier.as_ref(),
                resources,
            )
            .await
        }
    }?;
    ctx.metrics
        .tokens_issued
        .with_label_values(&[grant.as_str()])
        .inc();
    if client.last_used_is_stale(ctx.now) {
        note_used(ctx, client).await;
    }
    Ok(response)
}

/// Writes the client's `last_used_at` (at most once per `LAST_USED_GRANULARITY_SECS`),
/// which keeps a dynamically registered client from the janitor. The tokens are issued
/// already: a failure here is logged and costs the client nothing.
async fn note_used(ctx: &Ctx<'_>, client: &super::client::RegisteredClient) {
    let stale_before = ctx.now - super::client::LAST_USED_GRANULARITY_SECS;
    match ctx
        .store
        .note_client_used(
            client.client_id.clone(),
            client.instance.clone(),
            ctx.now,
            stale_before,
        )
        .await
    {
        Ok(()) => ctx.clients.note_used(&client.client_id, ctx.now),
        Err(err) => {
            tracing::warn!(client_id = %client.client_id, error = %err, "could not note the client's last use");
        }
    }
}
