//! Passkeys (WebAuthn Level 3) through webauthn-rs: registration from the account pages,
//! sign-in with a passkey alone (a discoverable credential, offered in the username field by
//! conditional mediation; user verification required), and a passkey as the second factor
//! after a password. Attestation `none`: we do not ask which make of authenticator it is.
//!
//! Every ceremony's state is kept server-side with what it is bound to (the pending login,
//! or the account page's session) and taken when it is answered, so a challenge is used
//! once and only by the browser whose request started it. The browser's side of each
//! ceremony is JSON: the options it passes to `navigator.credentials`, and the credential
//! it posts back.

use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};
use zeroize::Zeroizing;

use super::level;
use super::recovery;
use crate::audit::AuditActor;
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::store::factors::{Factor, FactorKind};

/// The longest name a user may give a passkey.
pub const MAX_NAME_CHARS: usize = 64;

/// Why a ceremony did not end in a passkey.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are not available on this server")]
    Disabled,
    #[error("the passkey ceremony expired or was already used; try again")]
    NoCeremony,
    #[error("the browser's answer is malformed")]
    Malformed,
    #[error("the passkey was not accepted")]
    Refused,
    #[error("this passkey is registered already")]
    Duplicate,
    #[error("{0}")]
    Other(OAuthError),
}

impl From<OAuthError> for PasskeyError {
    fn from(e: OAuthError) -> Self {
        Self::Other(e)
    }
}

/// The WebAuthn user handle of a user: derived from their id (stable, no personal data).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = crate::crypto::tokens::digest(&format!("portcullis webauthn user:{user_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    Uuid::from_bytes(bytes)
}

/// One ceremony's two halves: the options for the browser (JSON) and the state we keep.
pub struct Started {
    pub options: String,
    pub state: String,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|_| PasskeyError::Other(OAuthError::ServerError))
}

fn webauthn<'a>(ctx: &'a Ctx<'_>) -> Result<&'a webauthn_rs::Webauthn, PasskeyError> {
    ctx.mfa.webauthn().ok_or(PasskeyError::Disabled)
}

fn passkey_of(factor: &Factor) -> Option<Passkey> {
    factor
        .credential
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
}

/// The `amr` value of a passkey: `swk` when it may be synced to other devices (backup
/// eligible), `hwk` when it stays on one. Without attestation this is what we can know.
fn kind_of(backup_eligible: bool) -> &'static str {
    if backup_eligible {
        level::SWK
    } else {
        level::HWK
    }
}

/// Starts registering a passkey for the user, excluding the ones they have.
pub async fn start_registration(
    ctx: &Ctx<'_>,
    user_id: &str,
    username: &str,
    display_name: &str,
) -> Result<Started, PasskeyError> {
    let webauthn = webauthn(ctx)?;
    let existing = ctx.store.factors_of(user_id).await.map_err(store_error)?;
    let exclude: Vec<_> = existing
        .iter()
        .filter_map(passkey_of)
        .map(|p| p.cred_id().clone())
        .collect();
    let (options, state) = webauthn
        .start_passkey_registration(
            user_handle(user_id),
            username,
            display_name,
            (!exclude.is_empty()).then_some(exclude),
        )
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot start a passkey registration");
            PasskeyError::Other(OAuthError::ServerError)
        })?;
    Ok(Started {
        options: discoverable(&options)?,
        state: json(&state)?,
    })
}

/// The registration options as JSON, asking for a discoverable credential.
///
/// webauthn-rs's passkey registration sends `residentKey: "discouraged"`, so an
/// authenticator that can choose (a security key, Chromium's own) makes a credential the
/// browser cannot discover, and signing in with the passkey alone, which lists no
/// credentials, then finds none. Nothing in the answer depends on this option, so the
/// state is unchanged. `requireResidentKey` (WebAuthn Level 1's spelling; browsers read
/// `residentKey` when it is present) stays as webauthn-rs sets it.
fn discoverable<T: serde::Serialize>(options: &T) -> Result<String, PasskeyError> {
    let mut value =
        serde_json::to_value(options).map_err(|_| PasskeyError::Other(OAuthError::ServerError))?;
    let selection = value
        .get_mut("publicKey")
        .and_then(serde_json::Value::as_object_mut)
        .map(|pk| {
            pk.entry("authenticatorSelection")
                .or_insert_with(|| serde_json::json!({}))
        })
        .and_then(serde_json::Value::as_object_mut)
        .ok_or(PasskeyError::Other(OAuthError::ServerError))?;
    selection.insert("residentKey".to_owned(), "required".into());
    json(&value)
}

/// A name for a new passkey: trimmed, bounded, never empty.
pub fn clean_name(name: &str) -> String {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name
    }
}

/// Finishes a registration with the browser's answer; answers the recovery codes made
/// when this is the user's first factor (empty otherwise).
pub async fn finish_registration(
    ctx: &Ctx<'_>,
    user_id: &str,
    name: &str,
    response: &str,
    state: Option<String>,
    actor: AuditActor,
) -> Result<Vec<Zeroizing<String>>, PasskeyError> {
    let webauthn = webauthn(ctx)?;
    let state: PasskeyRegistration = state
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or(PasskeyError::NoCeremony)?;
    let response: RegisterPublicKeyCredential =
        serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)?;
    let passkey = webauthn
        .finish_passkey_registration(&response, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            PasskeyError::Refused
        })?;
    let credential_id: Vec<u8> = passkey.cred_id().to_vec();
    if ctx
        .store
        .find_passkey(credential_id.clone())
        .await
        .map_err(store_error)?
        .is_some()
    {
        return Err(PasskeyError::Duplicate);
    }
    let factors = ctx
        .store
        .user_factors(user_id)
        .await
        .map_err(store_error)?
        .unwrap_or_default();
    let codes = if factors.any() {
        Vec::new()
    } else {
        recovery::generate()
    };
    let id = uuid::Uuid::now_v7().simple().to_string();
    let name = clean_name(name);
    let event = super::event(
        "factor.enrolled",
        user_id,
        actor,
        serde_json::json!({ "factor": "passkey", "factor_id": id, "name": name }),
    );
    let factor = Factor {
        id,
        user_id: user_id.to_owned(),
        kind: FactorKind::Passkey,
        name,
        confirmed: true,
        created_at: ctx.now,
        last_used_at: None,
        secret_sealed: None,
        credential: Some(json(&passkey)?),
        credential_id: Some(credential_id),
    };
    let digests = codes.iter().map(|c| recovery::digest(user_id, c)).collect();
    ctx.store
        .add_passkey(factor, digests, ctx.now, event)
        .await
        .map_err(store_error)?;
    super::count(ctx, "passkey", "enrolled");
    Ok(codes)
}

/// Starts a passkey-only sign-in: any discoverable passkey of ours may answer.
pub fn start_discoverable(ctx: &Ctx<'_>) -> Result<Started, PasskeyError> {
    let webauthn = webauthn(ctx)?;
    let (options, state) = webauthn.start_discoverable_authentication().map_err(|e| {
        tracing::warn!(error = %e, "cannot start a passkey sign-in");
        PasskeyError::Other(OAuthError::ServerError)
    })?;
    Ok(Started {
        options: json(&options)?,
        state: json(&state)?,
    })
}

/// Starts a passkey check for a known user (the second factor after a password). None
/// when the user has no passkey.
pub async fn start_for_user(ctx: &Ctx<'_>, user_id: &str) -> Result<Option<Started>, PasskeyError> {
    let webauthn = webauthn(ctx)?;
    let passkeys: Vec<Passkey> = ctx
        .store
        .factors_of(user_id)
        .await
        .map_err(store_error)?
        .iter()
        .filter_map(passkey_of)
        .collect();
    if passkeys.is_empty() {
        return Ok(None);
    }
    let (options, state) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot start a passkey check");
            PasskeyError::Other(OAuthError::ServerError)
        })?;
    Ok(Some(Started {
        options: json(&options)?,
        state: json(&state)?,
    }))
}

/// A passkey that answered: whose, which factor, and its `amr` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    pub user_id: String,
    pub factor_id: String,
    pub kind: &'static str,
}

/// Stores what the assertion moved (the counter, backup state).
async fn remember_use(
    ctx: &Ctx<'_>,
    factor: &Factor,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), PasskeyError> {
    passkey.update_credential(result);
    ctx.store
        .update_passkey(&factor.id, json(&passkey)?, ctx.now)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Finishes a passkey-only sign-in: the credential names its user through its id; the
/// signature must verify against that user's stored key, with user verification.
pub async fn finish_discoverable(
    ctx: &Ctx<'_>,
    response: &str,
    state: Option<String>,
) -> Result<Asserted, PasskeyError> {
    let webauthn = webauthn(ctx)?;
    let state: DiscoverableAuthentication = state
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or(PasskeyError::NoCeremony)?;
    let response: PublicKeyCredential =
        serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)?;
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&response)
        .map_err(|_| PasskeyError::Malformed)?;
    let factor = ctx
        .store
        .find_passkey(credential_id.to_vec())
        .await
        .map_err(store_error)?
        .filter(|f| user_handle(&f.user_id) == handle)
        .ok_or(PasskeyError::Refused)?;
    let passkey = passkey_of(&factor).ok_or(PasskeyError::Refused)?;
    let result = webauthn
        .finish_discoverable_authentication_v2(&response, state, &passkey)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey sign-in refused");
            PasskeyError::Refused
        })?;
    // webauthn-rs requires user verification for passkeys; hold it to that here as well,
    // since a passkey alone stands for two factors only with it.
    if !result.user_verified() {
        return Err(PasskeyError::Refused);
    }
    let kind = kind_of(result.backup_eligible());
    remember_use(ctx, &factor, passkey, &result).await?;
    Ok(Asserted {
        user_id: factor.user_id.clone(),
        factor_id: factor.id.clone(),
        kind,
    })
}

/// Finishes a passkey check for the user who gave their password.
pub async fn finish_for_user(
    ctx: &Ctx<'_>,
    user_id: &str,
    response: &str,
    state: Option<String>,
) -> Result<Asserted, PasskeyError> {
    let webauthn = webauthn(ctx)?;
    let state: PasskeyAuthentication = state
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or(PasskeyError::NoCeremony)?;
    let response: PublicKeyCredential =
        serde_json::from_str(response).map_err(|_| PasskeyError::Malformed)?;
    let result = webauthn
        .finish_passkey_authentication(&response, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey check refused");
            PasskeyError::Refused
        })?;
    let factor = ctx
        .store
        .find_passkey(result.cred_id().to_vec())
        .await
        .map_err(store_error)?
        .filter(|f| f.user_id == user_id)
        .ok_or(PasskeyError::Refused)?;
    let passkey = passkey_of(&factor).ok_or(PasskeyError::Refused)?;
    let kind = kind_of(result.backup_eligible());
    remember_use(ctx, &factor, passkey, &result).await?;
    Ok(Asserted {
        user_id: factor.user_id.clone(),
        factor_id: factor.id.clone(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_stable_and_distinct() {
        assert_eq!(user_handle("a"), user_handle("a"));
        assert_ne!(user_handle("a"), user_handle("b"));
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential() {
        let origin = url::Url::parse("http://localhost:8080").unwrap();
        let webauthn = webauthn_rs::WebauthnBuilder::new("localhost", &origin)
            .unwrap()
            .build()
            .unwrap();
        let (options, _state) = webauthn
            .start_passkey_registration(user_handle("u"), "pat", "Pat", None)
            .unwrap();
        let sent: serde_json::Value =
            serde_json::from_str(&discoverable(&options).unwrap()).unwrap();
        let selection = &sent["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        // User verification stays required, and the rest of the options are untouched.
        assert_eq!(selection["userVerification"], "required");
        let mut original = serde_json::to_value(&options).unwrap();
        original["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        assert_eq!(sent, original);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("  "), "Passkey");
        assert_eq!(clean_name(" Phone\u{7}"), "Phone");
        assert_eq!(clean_name(&"x".repeat(100)).chars().count(), MAX_NAME_CHARS);
    }
}
