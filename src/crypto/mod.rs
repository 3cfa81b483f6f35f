//! Cryptography: password hashing off the executor, random secrets and their digests,
//! signing keys (sealed at rest, rotated by the key store), JWT signing/verification and
//! TOTP codes (RFC 6238).

pub mod audit_key;
pub mod dev_master_key;
pub mod device_cookie;
pub mod jwt;
pub mod key_material;
pub mod keystore;
pub mod password;
pub mod signature_memo;
pub mod tokens;
pub mod totp;
