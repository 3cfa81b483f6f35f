//! Signing-key material: the master key that encrypts private keys at rest, RSA key
//! generation, sealing and opening of private keys, and the public JWK.
//!
//! The `rsa` crate is used only to generate keys and encode them as PKCS#8. It must never
//! sign or decrypt: its private-key operations are not constant time (RUSTSEC-2023-0071).
//! Signing lives in `jwt.rs` (aws-lc-rs), and the JWK's `n`/`e` are read with aws-lc-rs.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use rsa::pkcs8::EncodePrivateKey as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::master_key::MASTER_KEY_ID_LEN;
// The master keys are parsed with the configuration (config must not depend on crypto);
// they are re-exported here, where they are used.
pub use crate::config::RSA_KEY_SIZES;
pub use crate::config::master_key::{MASTER_KEY_LEN, MasterKey, MasterKeyError, MasterKeys};
use crate::encoding::hex;

/// Blob layout, version 1: `version (1) | master key id (4) | nonce (12) | ciphertext | tag (16)`.
const SEAL_VERSION_1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Errors from key material handling. No variant carries key bytes or the configured input.
#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    #[error("the operating system random number generator failed")]
    Randomness,
    #[error("unsupported RSA key size {0} bits; allowed sizes are 2048, 3072 and 4096")]
    UnsupportedKeySize(usize),
    #[error("RSA key generation failed")]
    KeyGeneration(#[source] rsa::Error),
    #[error("encoding the RSA private key as PKCS#8 failed")]
    KeyEncoding(#[source] rsa::pkcs8::Error),
    #[error("not a usable RSA PKCS#8 private key ({0})")]
    InvalidPrivateKey(KeyRejected),
    #[error("encrypting the private key failed")]
    SealFailed,
    #[error("sealed key is malformed (truncated, or not produced by this server)")]
    MalformedSealedKey,
    #[error("sealed key has unsupported format version {0}")]
    UnsupportedSealVersion(u8),
    #[error(
        "no configured master key matches this sealed key (it was sealed with master key \
         {fingerprint}); add that master key to the configured list"
    )]
    NoMatchingMasterKey { fingerprint: String },
    #[error("decryption failed (wrong master key or tampered data)")]
    DecryptionFailed,
}

/// A PKCS#8 DER private key, wiped from memory on drop and never printed.
pub struct PrivateKeyDer(Zeroizing<Vec<u8>>);

impl PrivateKeyDer {
    /// Wraps PKCS#8 DER bytes (for example an imported key). Not validated here: parsing it
    /// with [`public_jwk`] or `jwt::Signer::new` does that.
    pub fn from_pkcs8_der(der: Vec<u8>) -> Self {
        Self(Zeroizing::new(der))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyDer(<hidden>)")
    }
}

/// Generates an RSA private key (2048, 3072 or 4096 bits) as PKCS#8 DER.
///
/// CPU-bound for up to seconds (4096 bits): call it from a blocking thread, not the executor.
pub fn generate_rsa_private_key(bits: usize) -> Result<PrivateKeyDer, KeyMaterialError> {
    if !RSA_KEY_SIZES.contains(&bits) {
        return Err(KeyMaterialError::UnsupportedKeySize(bits));
    }
    let key = rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(KeyMaterialError::KeyGeneration)?;
    // `SecretDocument` and `RsaPrivateKey` zeroize themselves on drop.
    let document = key.to_pkcs8_der().map_err(KeyMaterialError::KeyEncoding)?;
    Ok(PrivateKeyDer(Zeroizing::new(document.as_bytes().to_vec())))
}

/// An encrypted private key as stored in the database: one opaque blob.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey(Vec<u8>);

impl SealedKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Fingerprint of the master key that sealed this blob, so a rotation job can find the
    /// rows not yet rewrapped with the current key. `None` if the blob is malformed.
    pub fn master_key_fingerprint(&self) -> Option<String> {
        let (_, rest) = self.0.split_first()?;
        let (id, _) = rest.split_first_chunk::<MASTER_KEY_ID_LEN>()?;
        Some(hex(id))
    }
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedKey({} bytes)", self.0.len())
    }
}

/// Encrypts `der` with the current master key. `kid` is bound as associated data, so a
/// blob copied onto another key's row does not open.
pub fn seal(
    master: &MasterKeys,
    kid: &str,
    der: &PrivateKeyDer,
) -> Result<SealedKey, KeyMaterialError> {
    let key = master.current();
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|_| KeyMaterialError::Randomness)?;
    let aad = associated_data(key.id(), kid);
    let ciphertext = cipher(key)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: der.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| KeyMaterialError::SealFailed)?;

    let mut blob = Vec::with_capacity(1 + MASTER_KEY_ID_LEN + NONCE_LEN + ciphertext.len());
    blob.push(SEAL_VERSION_1);
    blob.extend_from_slice(key.id());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ciphertext);
    Ok(SealedKey(blob))
}

/// Decrypts a blob made by [`seal`] under the same `kid`, with whichever configured master
/// key sealed it (found by its 4-byte id; others are not tried, they cannot succeed).
pub fn open(
    master: &MasterKeys,
    kid: &str,
    sealed: &SealedKey,
) -> Result<PrivateKeyDer, KeyMaterialError> {
    let (&version, rest) = sealed
        .0
        .split_first()
        .ok_or(KeyMaterialError::MalformedSealedKey)?;
    if version != SEAL_VERSION_1 {
        return Err(KeyMaterialError::UnsupportedSealVersion(version));
    }
    let (key_id, rest) = rest
        .split_first_chunk::<MASTER_KEY_ID_LEN>()
        .ok_or(KeyMaterialError::MalformedSealedKey)?;
    let (nonce, ciphertext) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(KeyMaterialError::MalformedSealedKey)?;
    if ciphertext.len() <= TAG_LEN {
        return Err(KeyMaterialError::MalformedSealedKey);
    }

    let aad = associated_data(key_id, kid);
    let mut candidates = master.iter().filter(|key| key.id() == key_id).peekable();
    if candidates.peek().is_none() {
        return Err(KeyMaterialError::NoMatchingMasterKey {
            fingerprint: hex(key_id),
        });
    }
    // More than one candidate only on a 32-bit id collision between configured keys.
    for key in candidates {
        let payload = Payload {
            msg: ciphertext,
            aad: &aad,
        };
        if let Ok(plaintext) = cipher(key)?.decrypt(Nonce::from_slice(nonce), payload) {
            return Ok(PrivateKeyDer(Zeroizing::new(plaintext)));
        }
    }
    Err(KeyMaterialError::DecryptionFailed)
}

/// Opens with any configured key and seals again with the current one (master key rotation).
pub fn rewrap(
    master: &MasterKeys,
    kid: &str,
    sealed: &SealedKey,
) -> Result<SealedKey, KeyMaterialError> {
    let der = open(master, kid, sealed)?;
    seal(master, kid, &der)
}

/// The blob header is authenticated too, so its version and key id cannot be altered.
fn associated_data(key_id: &[u8; MASTER_KEY_ID_LEN], kid: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + MASTER_KEY_ID_LEN + kid.len());
    aad.push(SEAL_VERSION_1);
    aad.extend_from_slice(key_id);
    aad.extend_from_slice(kid.as_bytes());
    aad
}

/// AES-256-GCM under one master key.
fn cipher(key: &MasterKey) -> Result<Aes256Gcm, KeyMaterialError> {
    Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| KeyMaterialError::SealFailed)
}

/// An RFC 7517 public RSA signing key, as published in the JWKS and stored for replicas.
/// Field order is the serialization order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use")]
    pub key_use: String,
    pub alg: String,
    pub kid: String,
    /// Modulus, base64url without padding, big-endian without leading zeros.
    pub n: String,
    /// Public exponent, same encoding.
    pub e: String,
}

impl Jwk {
    pub(crate) fn from_key_pair(key_pair: &RsaKeyPair, kid: &str) -> Self {
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair.public_key());
        Self {
            kty: "RSA".to_owned(),
            key_use: "sig".to_owned(),
            alg: "RS256".to_owned(),
            kid: kid.to_owned(),
            n: URL_SAFE_NO_PAD.encode(&components.n),
            e: URL_SAFE_NO_PAD.encode(&components.e),
        }
    }
}

/// The public JWK of a private key.
pub fn public_jwk(der: &PrivateKeyDer, kid: &str) -> Result<Jwk, KeyMaterialError> {
    let key_pair =
        RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(KeyMaterialError::InvalidPrivateKey)?;
    Ok(Jwk::from_key_pair(&key_pair, kid))
}

/// RSA-2048 keys shared by the tests of this module and `jwt.rs`: generation is slow.
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use super::{PrivateKeyDer, generate_rsa_private_key};

    #[allow(clippy::expect_used)]
    fn generate() -> PrivateKeyDer {
        generate_rsa_private_key(2048).expect("generate test RSA key")
    }

    pub(crate) fn rsa_2048() -> &'static PrivateKeyDer {
        static KEY: OnceLock<PrivateKeyDer> = OnceLock::new();
        KEY.get_or_init(generate)
    }

    pub(crate) fn other_rsa_2048() -> &'static PrivateKeyDer {
        static KEY: OnceLock<PrivateKeyDer> = OnceLock::new();
        KEY.get_or_init(generate)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use std::collections::HashSet;

    use super::test_keys::rsa_2048;
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn keys(list: Vec<MasterKey>) -> MasterKeys {
        MasterKeys::new(list).unwrap()
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let master = MasterKey::from_base64(KEY_A).unwrap();
        assert_eq!(format!("{master:?}"), "MasterKey(<hidden>)");
        let list = MasterKeys::from(master);
        let list_debug = format!("{list:?}");
        assert!(list_debug.contains("<hidden>"), "{list_debug}");
        assert!(!list_debug.contains("1, 2, 3"), "{list_debug}");

        let der = rsa_2048();
        assert_eq!(format!("{der:?}"), "PrivateKeyDer(<hidden>)");
        let sealed = seal(&list, "k1", der).unwrap();
        assert_eq!(
            format!("{sealed:?}"),
            format!("SealedKey({} bytes)", sealed.as_bytes().len())
        );
    }

    #[test]
    fn unsupported_rsa_sizes_are_refused() {
        for bits in [0, 1024, 2047, 8192] {
            assert!(matches!(
                generate_rsa_private_key(bits),
                Err(KeyMaterialError::UnsupportedKeySize(b)) if b == bits
            ));
        }
    }

    #[test]
    fn generated_key_is_rsa_2048_pkcs8() {
        let key_pair = RsaKeyPair::from_pkcs8(rsa_2048().as_bytes()).unwrap();
        assert_eq!(key_pair.public_modulus_len(), 256);
    }

    #[test]
    fn seal_open_round_trip() {
        let master = keys(vec![MasterKey::generate().unwrap()]);
        let der = rsa_2048();
        let sealed = seal(&master, "k1", der).unwrap();
        let opened = open(&master, "k1", &sealed).unwrap();
        assert_eq!(opened.as_bytes(), der.as_bytes());
        assert_eq!(sealed.as_bytes()[0], SEAL_VERSION_1);
        assert_eq!(
            sealed.master_key_fingerprint(),
            Some(master.current().fingerprint())
        );
        // The database round trip.
        let stored = SealedKey::from_bytes(sealed.clone().into_bytes());
        assert_eq!(
            open(&master, "k1", &stored).unwrap().as_bytes(),
            der.as_bytes()
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let master = keys(vec![MasterKey::generate().unwrap()]);
        let one = seal(&master, "k1", rsa_2048()).unwrap();
        let two = seal(&master, "k1", rsa_2048()).unwrap();
        assert_ne!(one.as_bytes()[5..17], two.as_bytes()[5..17]);
        assert_ne!(one, two);
    }

    #[test]
    fn unconfigured_master_key_is_reported_with_its_fingerprint() {
        let sealing = MasterKey::generate().unwrap();
        let sealing_fp = sealing.fingerprint();
        let sealed = seal(&MasterKeys::from(sealing), "k1", rsa_2048()).unwrap();
        let other = keys(vec![MasterKey::generate().unwrap()]);
        let err = open(&other, "k1", &sealed).unwrap_err();
        assert!(
            matches!(&err, KeyMaterialError::NoMatchingMasterKey { fingerprint } if *fingerprint == sealing_fp),
            "{err:?}"
        );
        assert!(err.to_string().contains("no configured master key matches"));
    }

    #[test]
    fn tampered_blob_is_refused() {
        let master = keys(vec![MasterKey::generate().unwrap()]);
        let sealed = seal(&master, "k1", rsa_2048()).unwrap();
        let len = sealed.as_bytes().len();
        // Nonce, ciphertext body and tag.
        for index in [5, 16, 17, 400, len - 17, len - 1] {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[index] ^= 0x01;
            let err = open(&master, "k1", &SealedKey::from_bytes(bytes)).unwrap_err();
            assert!(
                matches!(err, KeyMaterialError::DecryptionFailed),
                "byte {index}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                "decryption failed (wrong master key or tampered data)"
            );
        }
        let mut wrong_id = sealed.as_bytes().to_vec();
        wrong_id[1] ^= 0x01;
        assert!(matches!(
            open(&master, "k1", &SealedKey::from_bytes(wrong_id)),
            Err(KeyMaterialError::NoMatchingMasterKey { .. })
        ));
        let mut wrong_version = sealed.as_bytes().to_vec();
        wrong_version[0] = 2;
        assert!(matches!(
            open(&master, "k1", &SealedKey::from_bytes(wrong_version)),
            Err(KeyMaterialError::UnsupportedSealVersion(2))
        ));
        for cut in [0, 1, 5, 17, 33] {
            let truncated = SealedKey::from_bytes(sealed.as_bytes()[..cut].to_vec());
            assert!(matches!(
                open(&master, "k1", &truncated),
                Err(KeyMaterialError::MalformedSealedKey)
            ));
        }
    }

    #[test]
    fn wrong_kid_is_refused() {
        let master = keys(vec![MasterKey::generate().unwrap()]);
        let sealed = seal(&master, "k1", rsa_2048()).unwrap();
        assert!(matches!(
            open(&master, "k2", &sealed),
            Err(KeyMaterialError::DecryptionFailed)
        ));
    }

    #[test]
    fn rotation_second_key_opens_and_rewrap_moves_to_the_new_key() {
        let old = MasterKey::from_base64(KEY_A).unwrap();
        let sealed = seal(&MasterKeys::from(old), "k1", rsa_2048()).unwrap();

        let new = MasterKey::generate().unwrap();
        let new_fp = new.fingerprint();
        let new_b64 = new.to_base64();
        let rotated = keys(vec![new, MasterKey::from_base64(KEY_A).unwrap()]);
        assert_eq!(
            open(&rotated, "k1", &sealed).unwrap().as_bytes(),
            rsa_2048().as_bytes()
        );

        let rewrapped = rewrap(&rotated, "k1", &sealed).unwrap();
        assert_eq!(rewrapped.master_key_fingerprint(), Some(new_fp));
        let new_only = MasterKeys::from(MasterKey::from_base64(&new_b64).unwrap());
        assert_eq!(
            open(&new_only, "k1", &rewrapped).unwrap().as_bytes(),
            rsa_2048().as_bytes()
        );
        assert!(matches!(
            open(&new_only, "k1", &sealed),
            Err(KeyMaterialError::NoMatchingMasterKey { .. })
        ));
    }

    #[test]
    fn sealed_blob_does_not_contain_the_plaintext_der() {
        let der = rsa_2048().as_bytes();
        // PKCS#8 RSA: SEQUENCE (long length), INTEGER 0, SEQUENCE { OID rsaEncryption }.
        let prefix_tail = [
            0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
            0x01, 0x01,
        ];
        assert_eq!(der[..2], [0x30, 0x82]);
        assert_eq!(der[4..20], prefix_tail);

        let master = keys(vec![MasterKey::generate().unwrap()]);
        let blob = seal(&master, "k1", rsa_2048()).unwrap().into_bytes();
        assert!(!blob.windows(prefix_tail.len()).any(|w| w == prefix_tail));
        assert!(!blob.windows(20).any(|w| w == &der[..20]));
        // No 16-byte run of the private key appears anywhere in the blob.
        let plain: HashSet<&[u8]> = der.windows(16).collect();
        assert!(!blob.windows(16).any(|w| plain.contains(w)));
    }

    #[test]
    fn public_jwk_is_rfc7517_rs256_in_field_order() {
        let jwk = public_jwk(rsa_2048(), "k1").unwrap();
        let json = serde_json::to_string(&jwk).unwrap();
        assert!(
            json.starts_with(r#"{"kty":"RSA","use":"sig","alg":"RS256","kid":"k1","n":""#),
            "{json}"
        );
        assert!(json.ends_with(r#"","e":"AQAB"}"#), "{json}");
        let n = URL_SAFE_NO_PAD.decode(&jwk.n).unwrap();
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0);
        let back: Jwk = serde_json::from_str(&json).unwrap();
        assert_eq!(back, jwk);
    }

    #[test]
    fn public_jwk_refuses_garbage() {
        let garbage = PrivateKeyDer::from_pkcs8_der(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(matches!(
            public_jwk(&garbage, "k1"),
            Err(KeyMaterialError::InvalidPrivateKey(_))
        ));
    }
}
