//! Signing-key operations for operators. The lifecycle itself lives in the keystore (and
//! audits each step as `system`); these record who asked for a manual step.

use super::{Actor, ManageError, Service};
use crate::audit::AuditEvent;
use crate::crypto::keystore::{KeyError, KeyInfo, KeyStore, RotationOutcome};
use crate::store::StoreError;

/// Key errors as management errors: an operator's mistake names what was wrong.
fn key_error(err: KeyError) -> ManageError {
    match err {
        KeyError::Store(e) => ManageError::Store(e),
        KeyError::UnknownKey(_) => ManageError::NotFound("signing key"),
        KeyError::Refused(why) => ManageError::Refused(why),
        other @ (KeyError::Material { .. }
        | KeyError::Jwt { .. }
        | KeyError::NoActiveKey
        | KeyError::Generation) => ManageError::Store(StoreError::Corrupt(other.to_string())),
    }
}

impl Service {
    /// The keys this replica publishes, oldest first.
    pub fn list_keys(&self, keys: &KeyStore) -> Vec<KeyInfo> {
        keys.current().keys().to_vec()
    }

    /// Starts a rotation now (see `KeyStore::rotate`).
    pub async fn rotate_keys(
        &self,
        actor: &Actor,
        keys: &KeyStore,
        immediately: bool,
    ) -> Result<RotationOutcome, ManageError> {
        let outcome = keys
            .rotate(self.clock.now(), immediately)
            .await
            .map_err(key_error)?;
        self.audit(
            actor,
            AuditEvent::new("key.rotation_requested")
                .subject(outcome.next_kid.clone())
                .details(serde_json::json!({ "immediately": immediately, "outcome": outcome })),
        )
        .await?;
        Ok(outcome)
    }

    /// Retires a key: a pending key is deleted, the active key is replaced at once.
    pub async fn retire_key(
        &self,
        actor: &Actor,
        keys: &KeyStore,
        kid: &str,
    ) -> Result<(), ManageError> {
        keys.retire(kid, self.clock.now())
            .await
            .map_err(key_error)?;
        self.audit(
            actor,
            AuditEvent::new("key.retire_requested").subject(kid.to_owned()),
        )
        .await
    }

    /// Re-encrypts every key under the first configured master key.
    pub async fn rewrap_keys(&self, actor: &Actor, keys: &KeyStore) -> Result<usize, ManageError> {
        let changed = keys.rewrap(self.clock.now()).await.map_err(key_error)?;
        self.audit(
            actor,
            AuditEvent::new("key.rewrap_requested")
                .details(serde_json::json!({ "rewrapped": changed })),
        )
        .await?;
        Ok(changed)
    }
}
