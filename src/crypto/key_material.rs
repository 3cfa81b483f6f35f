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
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE_NO_PAD,
};
use rand::RngCore as _;
use rand::rngs::OsRng;
use rsa::pkcs8::EncodePrivateKey as _;
use secrecy::{ExposeSecret as _, SecretBox};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// AES-256 key length.
pub const MASTER_KEY_LEN: usize = 32;
/// RSA modulus sizes we generate. Smaller keys are weak; larger ones make signing slow.
pub const RSA_KEY_SIZES: [usize; 3] = [2048, 3072, 4096];

/// Blob layout, version 1: `version (1) | master key id (4) | nonce (12) | ciphertext | tag (16)`.
const SEAL_VERSION_1: u8 = 1;
const MASTER_KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Standard alphabet with optional padding: operators paste keys from `openssl rand -base64 32`
/// and from tools that strip the `=`.
const MASTER_KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Errors from key material handling. No variant carries key bytes or the configured input.
#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    // The base64 error is dropped on purpose: it quotes the offending byte of the key.
    #[error("master key is not valid base64")]
    MasterKeyNotBase64,
    #[error(
        "master key must be exactly {MASTER_KEY_LEN} bytes (base64 of 32 random bytes), \
         but it decodes to {len} bytes"
    )]
    MasterKeyLength { len: usize },
    #[error("no master key configured; at least one is required")]
    NoMasterKey,
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

/// The AES-256-GCM key that encrypts signing keys at rest. It never enters the database,
/// logs or exports; only its [`fingerprint`](MasterKey::fingerprint) may be logged.
pub struct MasterKey {
    // Boxed so moves of `MasterKey` do not leave copies of the key on the stack.
    key: SecretBox<[u8; MASTER_KEY_LEN]>,
    id: [u8; MASTER_KEY_ID_LEN],
}

impl MasterKey {
    /// Parses standard base64 (padding optional, surrounding whitespace ignored).
    pub fn from_base64(encoded: &str) -> Result<Self, KeyMaterialError> {
        let decoded = Zeroizing::new(
            MASTER_KEY_BASE64
                .decode(encoded.trim())
                .map_err(|_| KeyMaterialError::MasterKeyNotBase64)?,
        );
        if decoded.len() != MASTER_KEY_LEN {
            return Err(KeyMaterialError::MasterKeyLength { len: decoded.len() });
        }
        let key = SecretBox::init_with_mut(|key: &mut [u8; MASTER_KEY_LEN]| {
            for (dst, src) in key.iter_mut().zip(decoded.iter()) {
                *dst = *src;
            }
        });
        Ok(Self::from_secret(key))
    }

    /// A fresh random key from the operating system.
    pub fn generate() -> Result<Self, KeyMaterialError> {
        let mut filled = Ok(());
        let key = SecretBox::init_with_mut(|key: &mut [u8; MASTER_KEY_LEN]| {
            filled = OsRng.try_fill_bytes(key);
        });
        filled.map_err(|_| KeyMaterialError::Randomness)?;
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

    fn cipher(&self) -> Result<Aes256Gcm, KeyMaterialError> {
        Aes256Gcm::new_from_slice(self.key.expose_secret())
            .map_err(|_| KeyMaterialError::SealFailed)
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
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, KeyMaterialError> {
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(KeyMaterialError::NoMasterKey)?;
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
    let aad = associated_data(&key.id, kid);
    let ciphertext = key
        .cipher()?
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
    blob.extend_from_slice(&key.id);
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
    let mut candidates = master.iter().filter(|key| key.id == *key_id).peekable();
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
        if let Ok(plaintext) = key.cipher()?.decrypt(Nonce::from_slice(nonce), payload) {
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

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
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
        assert!(matches!(err, KeyMaterialError::MasterKeyLength { len: 16 }));
        let message = err.to_string();
        assert!(message.contains("exactly 32 bytes"), "{message}");
        assert!(!message.contains(&short), "{message}");
    }

    #[test]
    fn master_key_invalid_base64_is_a_clear_error_without_the_input() {
        let input = "not*base64*at*all*secret";
        let err = MasterKey::from_base64(input).unwrap_err();
        assert!(matches!(err, KeyMaterialError::MasterKeyNotBase64));
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
            Err(KeyMaterialError::NoMasterKey)
        ));
        let a = MasterKey::from_base64(KEY_A).unwrap();
        let fp = a.fingerprint();
        let list = keys(vec![a, MasterKey::generate().unwrap()]);
        assert_eq!(list.current().fingerprint(), fp);
        assert_eq!(list.fingerprints().len(), 2);
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
        let rotated = keys(vec![new, MasterKey::from_base64(KEY_A).unwrap()]);
        assert_eq!(
            open(&rotated, "k1", &sealed).unwrap().as_bytes(),
            rsa_2048().as_bytes()
        );

        let rewrapped = rewrap(&rotated, "k1", &sealed).unwrap();
        assert_eq!(rewrapped.master_key_fingerprint(), Some(new_fp));
        let new_only = MasterKeys::from(rotated.current);
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
