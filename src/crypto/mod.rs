//! Cryptography: password hashing off the executor, random secrets and their digests.

pub mod password;
pub mod tokens;
