//! The UserInfo endpoint (OpenID Connect Core section 5.3): claims about the user the
//! access token stands for, limited to the scopes it carries.

use serde_json::{Map, Value};

use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::introspection;
use crate::oauth::scope::Scope;
use crate::oauth::token::access_token::AccessTokenClaims;
use crate::oauth::token::id_token::profile_claims;
use crate::store::models::users;

const INVALID: &str = "the access token is invalid, expired or revoked";

/// Verifies an access token for use at this server: signature, `typ` (an ID token is not
/// an access token), issuer, expiry, and what introspection checks in the database (the
/// `jti` deny-list, the grant, the client and the user).
pub async fn verify_access_token(
    ctx: &Ctx<'_>,
    token: &str,
) -> Result<AccessTokenClaims, OAuthError> {
    let claims = introspection::verified_access_token(ctx, token)
        .await
        .ok_or_else(|| OAuthError::InvalidToken(INVALID.into()))?;
    match introspection::standing(ctx, &claims).await? {
        Some(_) => Ok(claims),
        None => Err(OAuthError::InvalidToken(INVALID.into())),
    }
}

pub async fn userinfo(ctx: &Ctx<'_>, token: &str) -> Result<Value, OAuthError> {
    let claims = verify_access_token(ctx, token).await?;
    let scope =
        Scope::parse(&claims.scope).map_err(|_| OAuthError::InvalidToken(INVALID.into()))?;
    if !scope.contains("openid") {
        return Err(OAuthError::InsufficientScope(
            "the access token does not carry the openid scope".into(),
        ));
    }
    let sub = claims.sub.clone();
    let user = ctx
        .store
        .run(move |conn| users::find_by_id(conn, &sub))
        .await
        .map_err(store_error)?
        .filter(|u| !u.row.disabled)
        .ok_or_else(|| OAuthError::InvalidToken(INVALID.into()))?;
    let user = crate::manage::users::UserView::from(user);
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
