//! Token introspection (RFC 7662): resource servers ask whether a token is good. The
//! answer for anything that is not a live token of ours is exactly `{"active": false}`,
//! whatever the reason, so the endpoint is no oracle for why a token failed.
//!
//! Each answer reflects every revocation that has returned, on any replica: it reads
//! revocations, grants, users and clients from the database in a query that began after
//! the call did (calls arriving together share one, see `standing`), or, on Postgres,
//! reuses such an answer while this replica's lease guarantees that nothing changed since
//! (`store::agreement`). An operator may instead accept a bounded delay with
//! `tokens.introspection_cache_ms`.

use serde::Serialize;

use super::client::RegisteredClient;
use super::context::{Ctx, store_error};
use super::error::OAuthError;
use super::form::FormMap;
use super::grants::REFRESH_TOKEN_PREFIX;
use super::token::access_token::{self, AccessTokenClaims, Audience};
use crate::crypto::jwt::Expected;
use crate::crypto::tokens::Secret;
use crate::oauth::standing::Source;
use crate::store::standing::{StandingQuery, TokenStanding};

/// The role a client needs to call the introspection endpoint.
pub const INTROSPECTOR_ROLE: &str = "introspector";
/// With this role too, a resource server may introspect other clients' refresh tokens;
/// without it, a caller sees only refresh tokens issued to itself.
pub const REFRESH_INTROSPECTOR_ROLE: &str = "refresh_introspector";

/// The RFC 7662 section 2.2 response. Inactive answers serialise as `{"active":false}`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Which of our tokens this is, as Hydra calls it: `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_use: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Introspection {
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// A signed access token of ours, checked for signature, `typ` (an ID token is not an
/// access token), issuer and expiry. `None` for anything else.
pub async fn verified_access_token(ctx: &Ctx<'_>, token: &str) -> Option<AccessTokenClaims> {
    ctx.keys
        .verify(
            token,
            &Expected {
                typ: access_token::TYP,
                issuer: ctx.config.issuer.as_str(),
                audience: None,
                now: ctx.now,
                leeway: u32::try_from(ctx.config.tokens.clock_skew).unwrap_or(0),
            },
        )
        .await
        .ok()
}

/// Whether the database still backs a verified access token: not revoked by `jti`, its
/// grant not revoked, its client still enabled and still the registration the token was
/// issued to (`client_instance`), its user (for user tokens, which always carry a grant
/// id) still enabled. Storage failures are errors, never an answer.
pub async fn standing(
    ctx: &Ctx<'_>,
    claims: &AccessTokenClaims,
) -> Result<Option<TokenStanding>, OAuthError> {
    let (jti, client_id, gid) = (
        claims.jti.clone(),
        claims.client_id.clone(),
        claims.gid.clone(),
    );
    let user_id = gid.as_ref().map(|_| claims.sub.clone());
    let standing = checked(
        ctx,
        StandingQuery {
            jti,
            client_id,
            client_instance: Some(claims.client_instance.clone()),
            user_id,
            grant_id: gid,
        },
    )
    .await?;
    let good = !standing.jti_revoked
        && standing.client_active
        && (claims.gid.is_none() || (standing.grant_active && standing.username.is_some()));
    Ok(good.then_some(standing))
}

async fn checked(ctx: &Ctx<'_>, query: StandingQuery) -> Result<TokenStanding, OAuthError> {
    let (standing, source) = ctx
        .standings
        .check(query, ctx.started)
        .await
        .map_err(store_error)?;
    let source = match source {
        Source::Database => "database",
        Source::Remembered => "remembered",
    };
    ctx.metrics.standings.with_label_values(&[source]).inc();
    Ok(standing)
}

pub async fn introspect(
    ctx: &Ctx<'_>,
    caller: &RegisteredClient,
    form: &FormMap,
) -> Result<Introspection, OAuthError> {
    if !caller.confidential || !caller.roles.iter().any(|r| r == INTROSPECTOR_ROLE) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the introspection endpoint",
        ));
    }
    // Any value is a question we answer (RFC 7662 section 2.2): the form parser takes
    // `token` whole, whatever its length or bytes, and only its absence (or emptiness) is
    // a malformed request.
    let token = form.require("token")?;
    // `token_type_hint` is only a hint (RFC 7662 section 2.1), and we need none: refresh
    // tokens carry a prefix, access tokens are JWTs.
    let answer = if token.starts_with(REFRESH_TOKEN_PREFIX) {
        refresh_token(ctx, caller, token).await?
    } else {
        access_token(ctx, token).await?
    };
    let result = if answer.active { "active" } else { "inactive" };
    ctx.metrics
        .introspections
        .with_label_values(&[result])
        .inc();
    Ok(answer)
}

async fn access_token(ctx: &Ctx<'_>, token: &str) -> Result<Introspection, OAuthError> {
    let Some(claims) = verified_access_token(ctx, token).await else {
        return Ok(Introspection::inactive());
    };
    let Some(standing) = standing(ctx, &claims).await? else {
        return Ok(Introspection::inactive());
    };
    Ok(Introspection {
        active: true,
        scope: Some(claims.scope).filter(|s| !s.is_empty()),
        client_id: Some(claims.client_id),
        username: standing.username,
        token_type: Some("Bearer"),
        token_use: Some("access_token"),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        nbf: Some(claims.iat),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        iss: Some(claims.iss),
        jti: Some(claims.jti),
    })
}

async fn refresh_token(
    ctx: &Ctx<'_>,
    caller: &RegisteredClient,
    token: &str,
) -> Result<Introspection, OAuthError> {
    let digest = Secret::from_presented(token).digest().to_vec();
    let Some((row, grant)) = ctx
        .store
        .find_refresh_token(digest)
        .await
        .map_err(store_error)?
    else {
        return Ok(Introspection::inactive());
    };
    let visible = grant.client_id == caller.client_id
        || caller.roles.iter().any(|r| r == REFRESH_INTROSPECTOR_ROLE);
    let live =
        !row.rotated && !grant.revoked && row.expires_at > ctx.now && grant.expires_at > ctx.now;
    if !visible || !live {
        return Ok(Introspection::inactive());
    }
    let standing = checked(
        ctx,
        StandingQuery {
            jti: String::new(),
            client_id: grant.client_id.clone(),
            // A grant dies with its client's row (ON DELETE CASCADE): one that is found
            // belongs to the registration that exists now.
            client_instance: None,
            user_id: grant.user_id.clone(),
            grant_id: Some(grant.id.clone()),
        },
    )
    .await?;
    let good = standing.client_active
        && standing.grant_active
        && (grant.user_id.is_none() || standing.username.is_some());
    if !good {
        return Ok(Introspection::inactive());
    }
    Ok(Introspection {
        active: true,
        scope: Some(grant.scope).filter(|s| !s.is_empty()),
        client_id: Some(grant.client_id),
        username: standing.username,
        token_type: Some("refresh_token"),
        token_use: Some("refresh_token"),
        exp: Some(row.expires_at),
        iat: Some(row.issued_at),
        nbf: Some(row.issued_at),
        sub: grant.user_id,
        aud: (!grant.resources.is_empty())
            .then(|| Audience::for_resources(&grant.resources, ctx.config.issuer.as_str())),
        iss: Some(ctx.config.issuer.as_str().to_owned()),
        jti: None,
    })
}
