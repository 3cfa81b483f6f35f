//! The token endpoint (RFC 6749 section 3.2): authenticate the client, parse the grant,
//! dispatch to the grant's module. The HTTP layer only extracts and maps the result.

use super::context::Ctx;
use super::error::OAuthError;
use super::form::FormMap;
use super::grants::{self, TokenResponse};
use super::token_request::TokenRequest;

/// The audience of the access token: the RFC 8707 `resource` the client named, else the
/// issuer itself.
fn audience<'a>(ctx: &'a Ctx<'_>, form: &'a FormMap) -> Result<&'a str, OAuthError> {
    match form.get("resource") {
        None => Ok(ctx.config.issuer.as_str()),
        Some(resource) => {
            let ok =
                url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none() && u.has_host());
            if ok {
                Ok(resource)
            } else {
                Err(OAuthError::invalid_request(
                    "resource must be an absolute URI without a fragment (RFC 8707)",
                ))
            }
        }
    }
}

pub async fn exchange(
    ctx: &Ctx<'_>,
    authorization: Option<&str>,
    form: &FormMap,
) -> Result<TokenResponse, OAuthError> {
    let client = super::caller::authenticate(ctx, authorization, form).await?;
    let client = client.as_ref();
    let request = TokenRequest::parse(form)?;
    let audience = audience(ctx, form)?;
    let grant = request.grant_type().as_str();
    let response = match request {
        TokenRequest::ClientCredentials { scope } => {
            grants::client_credentials::exchange(ctx, client, scope.as_ref(), audience)
        }
        TokenRequest::Password {
            username,
            password,
            scope,
        } => {
            let password = zeroize::Zeroizing::new(password.expose().to_owned());
            grants::password::exchange(ctx, client, &username, password, scope.as_ref(), audience)
                .await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            grants::refresh_token::exchange(ctx, client, &refresh_token, scope.as_ref(), audience)
                .await
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            grants::authorization_code::exchange(
                ctx,
                client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_ref(),
                audience,
            )
            .await
        }
    }?;
    ctx.metrics.tokens_issued.with_label_values(&[grant]).inc();
    Ok(response)
}
