//! The master keys as configured: decoded and checked when configuration loads, so a bad
//! key is a configuration error naming its setting. Sealing and opening with them is
//! `crypto::key_material`'s job; this module only holds the secret and its identity.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use rand::RngCore as _;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret as _, SecretBox};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::encoding::hex;

/// AES-256 key length.
pub const MASTER_KEY_LEN: usize = 32;
/// Bytes of SHA-256 of a master key that name it inside a sealed blob.
pub const MASTER_KEY_ID_LEN: usize = 4;

/// Standard alphabet with optional padding: operators paste keys from `openssl rand -base64 32`
/// and from tools that strip the `=`.
const MASTER_KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What can be wrong with a master key. No variant carries key bytes or the configured input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    // The base64 error is dropped on purpose: it quotes the offending byte of the key.
    #[error("master key is not valid base64")]
    NotBase64,
    #[error(
        "master key must be exactly {MASTER_KEY_LEN} bytes (base64 of 32 random bytes), \
         but it decodes to {len} bytes"
    )]
    Length { len: usize },
    #[error("no master key configured; at least one is required")]
    NoMasterKey,
    #[error("the operating system random number generator failed")]
    Randomness,
}

/// The AES-256-GCM key that encrypts signing keys at rest. It never enters the database,
/// logs or exports; only its [`fingerprint`](MasterKey::fingerprint) may be logged.
pub struct MasterKey {
    // Boxed so moves of `MasterKey` do not leave copies of the key on the stack.
    key: SecretBox<[u8; MASTER_KEY_LEN]>,
    id: [u8; MASTER_KEY_ID_LEN],
}

impl MasterKey {
    /// Parses standard base64 (padding optional, surrounding whitespace ignored).
    pub fn from_base64(encoded: &str) -> Result<Self, MasterKeyError> {
        let decoded = Zeroizing::new(
            MASTER_KEY_BASE64
                .decode(encoded.trim())
                .map_err(|_| MasterKeyError::NotBase64)?,
        );
        if decoded.len() != MASTER_KEY_LEN {
            return Err(MasterKeyError::Length { len: decoded.len() });
        }
        let key = SecretBox::init_with_mut(|key: &mut [u8; MASTER_KEY_LEN]| {
            for (dst, src) in key.iter_mut().zip(decoded.iter()) {
                *dst = *src;
            }
        });
        Ok(Self::from_secret(key))
    }

    /// A fresh random key from the operating system.
    pub fn generate() -> Result<Self, MasterKeyError> {
        let mut filled = Ok(());
        let key = SecretBox::init_with_mut(|key: &mut [u8; MASTER_KEY_LEN]| {
            filled = OsRng.try_fill_bytes(key);
        });
        filled.map_err(|_| MasterKeyError::Randomness)?;
        Ok(Self::from_secret(key))
    }

    fn from_secret(key: SecretBox<[u8; MASTER_KEY_LEN]>) -> Self {
        let digest = Sha256::digest(key.expose_secret());
        let mut id = [0u8; MASTER_KEY_ID_LEN];
        for (dst, src) in id.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
        Self { key, id }
    }

    /// Padded standard base64, for writing the development key file. This is the secret.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.key.expose_secret()))
    }

    /// First 8 hex digits of SHA-256 of the key: safe to log, lets operators tell keys apart.
    pub fn fingerprint(&self) -> String {
        hex(&self.id)
    }

    /// The 4-byte id a sealed blob names its master key by.
    pub fn id(&self) -> &[u8; MASTER_KEY_ID_LEN] {
        &self.id
    }

    /// The key itself, for the cipher in `crypto::key_material` and nothing else.
    pub(crate) fn expose_secret(&self) -> &[u8; MASTER_KEY_LEN] {
        self.key.expose_secret()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<hidden>)")
    }
}

/// The configured master keys, in order: the first seals, every one opens. Keeping the old
/// key after the new one lets existing rows be opened and rewrapped during rotation.
#[derive(Debug)]
pub struct MasterKeys {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl MasterKeys {
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, MasterKeyError> {
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(MasterKeyError::NoMasterKey)?;
        Ok(Self {
            current,
            previous: keys.collect(),
        })
    }

    /// The key that seals.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// All keys, current first.
    pub fn iter(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(self.previous.iter())
    }

    /// Fingerprints in configured order, for the startup log.
    pub fn fingerprints(&self) -> Vec<String> {
        self.iter().map(MasterKey::fingerprint).collect()
    }
}

impl From<MasterKey> for MasterKeys {
    fn from(current: MasterKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }
}

/// Where the master keys come from.
#[derive(Clone)]
pub enum MasterKeySource {
    Configured(Arc<MasterKeys>),
    /// Development only (loopback issuer): read or create this file.
    DevFile(PathBuf),
}

impl fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Configured(keys) => write!(f, "Configured({} key(s))", keys.fingerprints().len()),
            Self::DevFile(path) => write!(f, "DevFile({})", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn master_key_accepts_padded_unpadded_and_trailing_newline() {
        let padded = MasterKey::from_base64(KEY_A).unwrap();
        let unpadded = MasterKey::from_base64(KEY_A.trim_end_matches('=')).unwrap();
        let with_newline = MasterKey::from_base64(&format!("{KEY_A}\n")).unwrap();
        assert_eq!(
            padded.key.expose_secret(),
            &std::array::from_fn::<u8, 32, _>(|i| i as u8)
        );
        assert_eq!(padded.key.expose_secret(), unpadded.key.expose_secret());
        assert_eq!(padded.key.expose_secret(), with_newline.key.expose_secret());
        assert_eq!(padded.to_base64().as_str(), KEY_A);
    }

    #[test]
    fn master_key_wrong_length_is_a_clear_error_without_the_input() {
        let short = STANDARD.encode([7u8; 16]);
        let err = MasterKey::from_base64(&short).unwrap_err();
        assert!(matches!(err, MasterKeyError::Length { len: 16 }));
        let message = err.to_string();
        assert!(message.contains("exactly 32 bytes"), "{message}");
        assert!(!message.contains(&short), "{message}");
    }

    #[test]
    fn master_key_invalid_base64_is_a_clear_error_without_the_input() {
        let input = "not*base64*at*all*secret";
        let err = MasterKey::from_base64(input).unwrap_err();
        assert!(matches!(err, MasterKeyError::NotBase64));
        assert!(!err.to_string().contains("secret"));
        assert!(!format!("{err:?}").contains("secret"));
    }

    #[test]
    fn generated_master_key_round_trips_and_fingerprints_differ() {
        let a = MasterKey::generate().unwrap();
        let b = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&a.to_base64()).unwrap();
        assert_eq!(a.fingerprint(), again.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 8);
        assert!(a.fingerprint().chars().all(|c| c.is_ascii_hexdigit()));
        // Pinned: first 4 bytes of SHA-256 of 00 01 .. 1f.
        let known = MasterKey::from_base64(KEY_A).unwrap();
        assert_eq!(known.fingerprint(), "630dcd29");
    }

    #[test]
    fn master_keys_must_not_be_empty() {
        assert!(matches!(
            MasterKeys::new(Vec::new()),
            Err(MasterKeyError::NoMasterKey)
        ));
        let a = MasterKey::from_base64(KEY_A).unwrap();
        let fp = a.fingerprint();
        let list = MasterKeys::new(vec![a, MasterKey::generate().unwrap()]).unwrap();
        assert_eq!(list.current().fingerprint(), fp);
        assert_eq!(list.fingerprints().len(), 2);
    }
}
