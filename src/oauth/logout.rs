//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the session, and
//! send the browser back only to a `post_logout_redirect_uri` registered for the client
//! the request proves it comes from. `flow::logout` ends the session.

use crate::crypto::jwt::Expected;
use crate::oauth::authorize::redirect_with;
use crate::oauth::context::Ctx;
use crate::oauth::flow::error::BrowserError;
use crate::oauth::form::FormMap;
use crate::oauth::token::id_token::{self, IdTokenClaims};

/// An ID token hint may be long expired: it only names the client and user.
const HINT_LEEWAY: u32 = 10 * 366 * 86_400;

/// Where to send the browser after the session ends (None: show the logout page).
pub async fn target(ctx: &Ctx<'_>, form: &FormMap) -> Result<Option<String>, BrowserError> {
    let hinted = match form.get("id_token_hint") {
        Some(hint) => {
            let claims: IdTokenClaims = ctx
                .keys
                .verify(
                    hint,
                    &Expected {
                        typ: id_token::TYP,
                        issuer: ctx.config.issuer.as_str(),
                        audience: None,
                        now: ctx.now,
                        leeway: HINT_LEEWAY,
                    },
                )
                .await
                .map_err(|_| {
                    BrowserError::Page("The logout request carries an invalid id_token_hint.")
                })?;
            Some(claims.aud)
        }
        None => None,
    };
    let client_id = match (hinted, form.get("client_id")) {
        (Some(a), Some(b)) if a != b => {
            return Err(BrowserError::Page(
                "client_id does not match the id_token_hint.",
            ));
        }
        (Some(a), _) => Some(a),
        (None, Some(b)) => Some(b.to_owned()),
        (None, None) => None,
    };
    let Some(uri) = form.get("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let Some(client_id) = client_id else {
        return Err(BrowserError::Page(
            "post_logout_redirect_uri needs client_id or id_token_hint.",
        ));
    };
    let client = ctx.clients.get(&client_id).await?;
    let registered = client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
    if !registered {
        return Err(BrowserError::Page(
            "The address to return to after logout is not registered for this application.",
        ));
    }
    Ok(Some(match form.get("state") {
        Some(state) => redirect_with(uri, &[("state", state)]),
        None => uri.to_owned(),
    }))
}
