//! TOTP authenticators (RFC 6238, as `crate::crypto::totp` computes them): enrolment with
//! a secret sealed at rest, confirmed by a first valid code, and a code check whose step
//! is taken once per authenticator (replay refused, across replicas, by the store).

use zeroize::Zeroizing;

use super::{MfaKit, recovery};
use crate::audit::AuditActor;
use crate::crypto::key_material::{self, PrivateKeyDer, SealedKey};
use crate::crypto::totp::{self, TotpError, TotpSecret};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::store::factors::{Factor, FactorKind};

/// The name an authenticator is listed under.
pub const NAME: &str = "Authenticator app";

/// A TOTP enrolment waiting for its first code: what the user's app needs.
pub struct Enrolment {
    pub factor_id: String,
    /// The secret in base32, for typing in by hand.
    pub secret: Zeroizing<String>,
    /// The `otpauth://` URI the QR code carries.
    pub uri: Zeroizing<String>,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("factor_id", &self.factor_id)
            .finish_non_exhaustive()
    }
}

/// The associated data a secret is sealed under: the factor's id, so a sealed secret
/// copied onto another row does not open.
fn sealing_id(factor_id: &str) -> String {
    format!("totp:{factor_id}")
}

fn seal(kit: &MfaKit, factor_id: &str, secret: &TotpSecret) -> Result<Vec<u8>, OAuthError> {
    let der = PrivateKeyDer::from_pkcs8_der(secret.expose().to_vec());
    key_material::seal(kit.master(), &sealing_id(factor_id), &der)
        .map(SealedKey::into_bytes)
        .map_err(|e| {
            tracing::error!(error = %e, "cannot seal a TOTP secret");
            OAuthError::ServerError
        })
}

fn open(kit: &MfaKit, factor: &Factor) -> Result<TotpSecret, OAuthError> {
    let sealed = SealedKey::from_bytes(factor.secret_sealed.clone().unwrap_or_default());
    let der = key_material::open(kit.master(), &sealing_id(&factor.id), &sealed).map_err(|e| {
        tracing::error!(error = %e, factor = %factor.id, "cannot open a TOTP secret");
        OAuthError::ServerError
    })?;
    TotpSecret::from_bytes(der.as_bytes().to_vec()).map_err(|_| OAuthError::ServerError)
}

fn enrolment_of(kit: &MfaKit, factor_id: String, secret: &TotpSecret, account: &str) -> Enrolment {
    Enrolment {
        factor_id,
        secret: secret.to_base32(),
        uri: totp::otpauth_uri(&kit.label, account, secret),
    }
}

/// The user's TOTP enrolment: the one waiting for its first code, or a new one. None when
/// the user already has a confirmed authenticator (removing it comes first).
pub async fn enrolment(
    ctx: &Ctx<'_>,
    user_id: &str,
    account: &str,
) -> Result<Option<Enrolment>, OAuthError> {
    let factors = ctx.store.factors_of(user_id).await.map_err(store_error)?;
    let totps: Vec<&Factor> = factors
        .iter()
        .filter(|f| f.kind == FactorKind::Totp)
        .collect();
    if totps.iter().any(|f| f.confirmed) {
        return Ok(None);
    }
    if let Some(waiting) = totps.first() {
        let secret = open(ctx.mfa, waiting)?;
        return Ok(Some(enrolment_of(
            ctx.mfa,
            waiting.id.clone(),
            &secret,
            account,
        )));
    }
    let secret = TotpSecret::generate().map_err(|_| OAuthError::ServerError)?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let factor = Factor {
        id: id.clone(),
        user_id: user_id.to_owned(),
        kind: FactorKind::Totp,
        name: NAME.to_owned(),
        confirmed: false,
        created_at: ctx.now,
        last_used_at: None,
        secret_sealed: Some(seal(ctx.mfa, &id, &secret)?),
        credential: None,
        credential_id: None,
    };
    if !ctx.store.begin_totp(factor).await.map_err(store_error)? {
        return Ok(None);
    }
    Ok(Some(enrolment_of(ctx.mfa, id, &secret, account)))
}

/// A confirmed authenticator made from a fresh secret, for an operator who provisions it
/// (`portcullis user enroll-totp`): the factor to store and what to hand over, once. The
/// secret is sealed with the kit's master keys exactly as an enrolment on the pages is, so
/// the server opens what the CLI sealed. Confirmed at once: no first code proves the app
/// has it, which is the operator's to arrange; the first code the user signs in with is
/// then taken like any other.
pub fn provisioned(
    kit: &MfaKit,
    user_id: &str,
    account: &str,
    now: i64,
) -> Result<(Factor, Enrolment), OAuthError> {
    let secret = TotpSecret::generate().map_err(|_| OAuthError::ServerError)?;
    let id = uuid::Uuid::now_v7().simple().to_string();
    let factor = Factor {
        id: id.clone(),
        user_id: user_id.to_owned(),
        kind: FactorKind::Totp,
        name: NAME.to_owned(),
        confirmed: true,
        created_at: now,
        last_used_at: None,
        secret_sealed: Some(seal(kit, &id, &secret)?),
        credential: None,
        credential_id: None,
    };
    Ok((factor, enrolment_of(kit, id, &secret, account)))
}

/// What checking a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The code was right and its step is now taken. A first code confirmed the
    /// enrolment; `codes` are then the user's new recovery codes (empty when they had some).
    Accepted {
        codes: Vec<Zeroizing<String>>,
    },
    Wrong,
    /// A right code whose step was taken before.
    Replayed,
    /// Not six digits.
    Malformed,
}

/// Checks a code against the user's authenticator (`confirming`: the one waiting for its
/// first code; otherwise the confirmed one). Not throttled here: callers go through
/// `verify`, which counts the attempt first.
pub async fn check(
    ctx: &Ctx<'_>,
    user_id: &str,
    code: &str,
    confirming: bool,
    actor: AuditActor,
) -> Result<Checked, OAuthError> {
    let factors = ctx.store.factors_of(user_id).await.map_err(store_error)?;
    let Some(factor) = factors
        .iter()
        .find(|f| f.kind == FactorKind::Totp && f.confirmed != confirming)
    else {
        return Ok(Checked::Wrong);
    };
    let secret = open(ctx.mfa, factor)?;
    let step = match totp::verify(&secret, code, ctx.now, None) {
        Ok(step) => step,
        Err(TotpError::Malformed) => return Ok(Checked::Malformed),
        Err(
            TotpError::Wrong
            | TotpError::Replayed
            | TotpError::Random
            | TotpError::SecretTooShort
            | TotpError::NotBase32,
        ) => return Ok(Checked::Wrong),
    };
    let (enrolled, codes) = if confirming {
        let has_codes = factors.iter().any(|f| f.confirmed);
        let codes = if has_codes {
            Vec::new()
        } else {
            recovery::generate()
        };
        let digests = codes
            .iter()
            .map(|c| recovery::digest(user_id, c))
            .collect::<Vec<_>>();
        let event = super::event(
            "factor.enrolled",
            user_id,
            actor,
            serde_json::json!({ "factor": "totp", "factor_id": factor.id }),
        );
        (Some((event, digests)), codes)
    } else {
        (None, Vec::new())
    };
    let taken = ctx
        .store
        .take_totp_step(&factor.id, step, ctx.now, enrolled)
        .await
        .map_err(store_error)?;
    Ok(if taken {
        Checked::Accepted { codes }
    } else {
        Checked::Replayed
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::crypto::key_material::{MasterKey, MasterKeys};

    fn kit(master: MasterKey) -> MfaKit {
        MfaKit::new(
            Arc::new(MasterKeys::from(master)),
            "http://localhost:8080",
            "Portcullis",
        )
    }

    #[test]
    fn a_provisioned_authenticator_opens_with_the_same_master_keys_only() {
        let b64 = MasterKey::generate().unwrap().to_base64();
        let sealing = kit(MasterKey::from_base64(&b64).unwrap());
        let (factor, handed) = provisioned(&sealing, "u1", "alice", 1_800_000_000).unwrap();
        assert!(factor.confirmed && factor.kind == FactorKind::Totp);
        assert_eq!(factor.id, handed.factor_id);
        assert!(
            handed.uri.contains(handed.secret.as_str()),
            "{}",
            handed.uri.as_str()
        );
        assert!(handed.uri.contains("alice"));

        // Another process with the same master key (the server, after the CLI) opens it
        // to the secret that was handed over.
        let server = kit(MasterKey::from_base64(&b64).unwrap());
        let opened = open(&server, &factor).unwrap();
        assert_eq!(opened.to_base32().as_str(), handed.secret.as_str());

        let stranger = kit(MasterKey::generate().unwrap());
        assert!(open(&stranger, &factor).is_err());
        // Sealed to its own row: copied onto another factor id it does not open.
        let moved = Factor {
            id: "other".into(),
            ..factor
        };
        assert!(open(&server, &moved).is_err());
    }
}
