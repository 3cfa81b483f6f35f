//! Signatures this key has already verified, remembered by digest. A resource server
//! introspects the same bearer token on every API call it serves, and an RSA
//! verification costs about twenty times the SHA-256 that recognises a repeat.
//!
//! Only the signature check is skipped on a hit: header, issuer, expiry and every
//! database check still run on each call. Whether these exact bytes carry a valid
//! signature by this key can never change, and the memo lives inside the key, so a key
//! that is replaced or removed takes its memo along.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::digest::{Context, SHA256};

/// Digests kept per key before the memo starts over: 4,096 × 32 bytes plus the set's
/// overhead is about 200 KiB at most.
const CAPACITY: usize = 4096;

#[derive(Default)]
pub struct SignatureMemo {
    seen: Mutex<HashSet<[u8; 32]>>,
}

/// The digest of a token's signing input and signature together.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl SignatureMemo {
    pub fn fingerprint(signing_input: &[u8], signature: &[u8]) -> Fingerprint {
        // Length-prefixed so that no split of the same bytes gives the same digest.
        let mut context = Context::new(&SHA256);
        context.update(
            &u64::try_from(signing_input.len())
                .unwrap_or(u64::MAX)
                .to_be_bytes(),
        );
        context.update(signing_input);
        context.update(signature);
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        Fingerprint(out)
    }

    pub fn contains(&self, fingerprint: Fingerprint) -> bool {
        self.lock().contains(&fingerprint.0)
    }

    /// Remembers a signature that has just been verified.
    pub fn insert(&self, fingerprint: Fingerprint) {
        let mut seen = self.lock();
        // Starting over is the simplest bound; a miss costs one verification.
        if seen.len() >= CAPACITY {
            seen.clear();
        }
        seen.insert(fingerprint.0);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        // A set of digests is never left half-changed by a panic.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_what_was_inserted() {
        let memo = SignatureMemo::default();
        let a = SignatureMemo::fingerprint(b"header.payload", b"sig");
        assert!(!memo.contains(a));
        memo.insert(a);
        assert!(memo.contains(a));
        assert!(!memo.contains(SignatureMemo::fingerprint(b"header.payload", b"sig2")));
        assert!(!memo.contains(SignatureMemo::fingerprint(b"header.payloa", b"dsig")));
    }

    #[test]
    fn stays_bounded() {
        let memo = SignatureMemo::default();
        for i in 0..(CAPACITY * 2 + 7) {
            memo.insert(SignatureMemo::fingerprint(&i.to_be_bytes(), b"s"));
            assert!(memo.len() <= CAPACITY);
        }
        assert!(!memo.is_empty());
    }
}
