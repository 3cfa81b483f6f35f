//! The key set one replica holds in memory: built from stored rows (opening every sealed
//! key), it answers which key signs, what the JWKS and its ETag are, and which key
//! verifies a token's `kid`. No storage access: `rotation` loads the rows.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ALG, KeyError};
use crate::crypto::jwt::{self, Expected, JwtError, Signer, VerificationKey, VerificationKeys};
use crate::crypto::key_material::{self, Jwk, KeyMaterialError, MasterKeys, SealedKey};
use crate::store::models::keys::{ACTIVE, RETIRED, SigningKeyRow};

/// One published key, as operators see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub status: String,
    pub created_at: i64,
    pub activate_after: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub delete_after: Option<i64>,
}

impl From<&SigningKeyRow> for KeyInfo {
    fn from(r: &SigningKeyRow) -> Self {
        Self {
            kid: r.kid.clone(),
            alg: r.alg.clone(),
            status: r.status.clone(),
            created_at: r.created_at,
            activate_after: r.activate_after,
            activated_at: r.activated_at,
            retired_at: r.retired_at,
            delete_after: r.delete_after,
        }
    }
}

/// What one replica holds in memory, swapped whole on reload.
pub struct KeySet {
    signer: Option<Arc<Signer>>,
    verification: VerificationKeys,
    jwks: bytes_body::Body,
    etag: String,
    keys: Vec<KeyInfo>,
}

/// The JWKS body is shared by every response without copying.
mod bytes_body {
    pub type Body = std::sync::Arc<[u8]>;
}

impl KeySet {
    pub fn jwks(&self) -> &bytes_body::Body {
        &self.jwks
    }
    pub fn etag(&self) -> &str {
        &self.etag
    }
    pub fn keys(&self) -> &[KeyInfo] {
        &self.keys
    }
    pub fn active_kid(&self) -> Option<&str> {
        self.signer.as_deref().map(Signer::kid)
    }

    /// Signs `claims` as a compact JWS with the active key.
    pub fn sign<C: Serialize + ?Sized>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        let signer = self.signer.as_ref().ok_or(KeyError::NoActiveKey)?;
        signer.sign(typ, claims).map_err(|source| KeyError::Jwt {
            kid: signer.kid().to_owned(),
            source,
        })
    }

    /// Verifies a token against the published keys, the key chosen by its `kid`.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<T, JwtError> {
        jwt::verify(token, &self.verification, expected)
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("active", &self.active_kid())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// Builds the in-memory set from rows, opening every sealed key so a wrong master key is
/// found at start, not at the first signature.
pub(super) fn build_set(
    master: &MasterKeys,
    rows: &[SigningKeyRow],
    now: i64,
) -> Result<KeySet, KeyError> {
    let mut verification = VerificationKeys::new();
    let mut published: Vec<Jwk> = Vec::new();
    let mut signer = None;
    let mut keys = Vec::new();
    for row in rows {
        let der = key_material::open(
            master,
            &row.kid,
            &SealedKey::from_bytes(row.sealed_private_key.clone()),
        )
        .map_err(|source| KeyError::Material {
            kid: row.kid.clone(),
            source,
        })?;
        // A retired key past its deletion time is already gone as far as verifiers
        // are concerned, even before the janitor deletes the row.
        if row.status == RETIRED && row.delete_after.is_some_and(|t| t <= now) {
            continue;
        }
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).map_err(|_| KeyError::Material {
            kid: row.kid.clone(),
            source: KeyMaterialError::MalformedSealedKey,
        })?;
        let key = VerificationKey::from_jwk(&jwk).map_err(|source| KeyError::Jwt {
            kid: row.kid.clone(),
            source,
        })?;
        verification.insert(key);
        if row.status == ACTIVE && row.alg == ALG {
            signer = Some(Arc::new(Signer::new(&der, row.kid.clone()).map_err(
                |source| KeyError::Jwt {
                    kid: row.kid.clone(),
                    source,
                },
            )?));
        }
        published.push(jwk);
        keys.push(KeyInfo::from(row));
    }
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published }))
        .map_err(|_| KeyError::Generation)?;
    let etag = crate::encoding::etag(&jwks);
    Ok(KeySet {
        signer,
        verification,
        jwks: jwks.into(),
        etag,
        keys,
    })
}
