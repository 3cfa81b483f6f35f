//! `id_token_hint` (OpenID Connect Core 3.1.2.1; RP-Initiated Logout 1.0 section 2): an ID
//! token this server issued, sent back by a client to name the user it expects. Used by
//! /authorize (whose user must be the session's) and /logout (whose client chooses where
//! the browser may go back to).
//!
//! The hint is verified as the ID token it claims to be: signature with a key we publish,
//! `typ`, `iss`, and `aud` naming the client that sends it. Only its expiry is waived: a
//! client keeps the ID token of a sign-in for as long as the sign-in lasts, often past `exp`,
//! and the hint asserts nothing new (RP-Initiated Logout 1.0 section 2 says so explicitly).

use crate::crypto::jwt::Expected;
use crate::oauth::context::Ctx;
use crate::oauth::token::id_token::{self, IdTokenClaims};

/// How far past its `exp` a hint is still read. Not unbounded, so an ID token from a key
/// long since retired and unpublished cannot come back; verification also needs the key.
const EXPIRED_FOR_AT_MOST: u32 = 10 * 366 * 86_400;

/// What a verified hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The user the client signed in (`sub`).
    pub subject: String,
    /// The client the token was issued to (`aud`).
    pub client_id: String,
}

/// Why a hint was refused; the caller picks the words shown (they never echo the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintError {
    /// Not an ID token of ours: bad shape, signature, `typ`, `iss`, or issued in the future.
    Invalid,
    /// A valid ID token, but issued to another client than the `client_id` sent with it.
    OtherClient,
}

/// Verifies `hint`; when `client_id` is given, the hint must have been issued to it.
pub async fn verify(ctx: &Ctx<'_>, hint: &str, client_id: Option<&str>) -> Result<Hint, HintError> {
    let claims: IdTokenClaims = ctx
        .keys
        .verify(
            hint,
            &Expected {
                typ: id_token::TYP,
                issuer: ctx.config.issuer.as_str(),
                // Checked below, so a mismatch can be told from a forgery.
                audience: None,
                now: ctx.now,
                leeway: EXPIRED_FOR_AT_MOST,
            },
        )
        .await
        .map_err(|_| HintError::Invalid)?;
    // The long leeway is for `exp` only: a token claiming to be issued in the future is
    // still refused with the usual skew.
    if claims.iat > ctx.now + ctx.config.tokens.clock_skew {
        return Err(HintError::Invalid);
    }
    if claims.aud.is_empty() || claims.aud != claims.azp {
        return Err(HintError::Invalid);
    }
    if client_id.is_some_and(|id| id != claims.aud) {
        return Err(HintError::OtherClient);
    }
    Ok(Hint {
        subject: claims.sub,
        client_id: claims.aud,
    })
}
