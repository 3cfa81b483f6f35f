//! The UserInfo endpoint (OpenID Connect Core section 5.3): claims about the user the
//! access token stands for, limited to the scopes it carries. The access-token check here
//! is also the admin API's, so both refuse a token as soon as introspection would.

use serde_json::{Map, Value};

use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::introspection;
use crate::oauth::scope::Scope;
use crate::oauth::token::access_token::AccessTokenClaims;
use crate::oauth::token::id_token::profile_claims;

const INVALID: &str = "the access token is invalid, expired or revoked";

fn invalid() -> OAuthError {
    OAuthError::InvalidToken(INVALID.into())
}

/// The first half of the check: a signed access token of ours (signature, `typ`, for an ID
/// token is not an access token, issuer, expiry). Nothing read from the database yet.
pub async fn signed_access_token(
    ctx: &Ctx<'_>,
    token: &str,
) -> Result<AccessTokenClaims, OAuthError> {
    introspection::verified_access_token(ctx, token)
        .await
        .ok_or_else(invalid)
}

/// The second half: what introspection checks in the database (the `jti` deny-list, the
/// grant, the client and the user), with introspection's own freshness.
pub async fn still_active(ctx: &Ctx<'_>, claims: &AccessTokenClaims) -> Result<(), OAuthError> {
    match introspection::standing(ctx, claims).await? {
        Some(_) => Ok(()),
        None => Err(invalid()),
    }
}

/// Both halves: an access token for use at this server.
pub async fn verify_access_token(
    ctx: &Ctx<'_>,
    token: &str,
) -> Result<AccessTokenClaims, OAuthError> {
    let claims = signed_access_token(ctx, token).await?;
    still_active(ctx, &claims).await?;
    Ok(claims)
}

pub async fn userinfo(ctx: &Ctx<'_>, token: &str) -> Result<Value, OAuthError> {
    let claims = signed_access_token(ctx, token).await?;
    // A token minted for another resource (RFC 8707) is that resource's to accept: were we
    // to honour it, any resource server holding one could read the user's profile here.
    // Tokens without resource indicators carry this server's issuer as `aud`.
    if !claims.aud.contains(ctx.config.issuer.as_str()) {
        return Err(invalid());
    }
    still_active(ctx, &claims).await?;
    // Only a user's token speaks for a user: one without a grant (a client's own token
    // from client_credentials) names no user, whatever its `sub`.
    if claims.gid.is_none() {
        return Err(invalid());
    }
    let scope = Scope::parse(&claims.scope).map_err(|_| invalid())?;
    if !scope.contains("openid") {
        return Err(OAuthError::InsufficientScope(
            "the access token does not carry the openid scope".into(),
        ));
    }
    let user = ctx
        .accounts
        .enabled_profile(&claims.sub)
        .await
        .map_err(store_error)?
        .ok_or_else(invalid)?;
    let (name, preferred_username, email, email_verified) = profile_claims(&user, &scope);
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(user.id));
    if let Some(v) = name {
        out.insert("name".into(), Value::from(v));
    }
    if let Some(v) = preferred_username {
        out.insert("preferred_username".into(), Value::from(v));
    }
    if let Some(v) = email {
        out.insert("email".into(), Value::from(v));
    }
    if let Some(v) = email_verified {
        out.insert("email_verified".into(), Value::from(v));
    }
    Ok(Value::Object(out))
}
