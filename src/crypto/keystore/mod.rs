//! Signing keys: their lifecycle, rotation, the in-memory key set and the JWKS.
//!
//! A key is `pending` (published in the JWKS, not signing) -> `active` (signs) ->
//! `retired` (still published, so tokens it signed keep verifying) -> deleted once every
//! token it signed has expired. The next key is published at least two JWKS cache
//! lifetimes before it signs, so a relying party that cached the JWKS just before the
//! switch already knows it. Replicas share keys through the database: partial unique
//! indexes make a second active or pending key impossible, a lease lets one replica at a
//! time advance the lifecycle, and every replica reloads the set periodically and when it
//! meets an unknown `kid`.

//!
//! `key_set` is the pure part: which key signs, what the JWKS and its ETag are, which key
//! verifies a `kid`. `rotation` is the stored state machine around it: [`KeyStore`] moves
//! keys through their states in the database, under a lease, and reloads the set.

mod key_set;
mod rotation;

pub use key_set::{KeyInfo, KeySet};
pub use rotation::{KeyPolicy, KeyStore, RotationOutcome};

use super::jwt::{self, JwtError};
use super::key_material::KeyMaterialError;
use crate::store::StoreError;

pub const ALG: &str = jwt::ALG_RS256;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key {kid}: {source}")]
    Material {
        kid: String,
        #[source]
        source: KeyMaterialError,
    },
    #[error("signing key {kid} cannot be used: {source}")]
    Jwt {
        kid: String,
        #[source]
        source: JwtError,
    },
    #[error("no active signing key")]
    NoActiveKey,
    #[error("no signing key with kid {0}")]
    UnknownKey(String),
    #[error("{0}")]
    Refused(&'static str),
    #[error("key generation failed")]
    Generation,
}
