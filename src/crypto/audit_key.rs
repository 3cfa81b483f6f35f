//! The keys of the audit chain. Unless `keys.audit_keys` names keys of their own, each is
//! derived from a master key with HKDF-SHA-256 under a label of its own, so the key that
//! seals signing keys is never used as a MAC key itself, and a server that holds its
//! master key needs no further secret to keep the log keyed. The chain itself is
//! `store::audit`.

use aws_lc_rs::hkdf;
use zeroize::Zeroizing;

use crate::audit::{AUDIT_KEY_LEN, AuditKey, AuditKeys};
use crate::config::master_key::MasterKeys;

/// HKDF's `info`: names what the derived key is for, so no other derivation from the
/// same master key can yield it.
const LABEL: &[u8] = b"portcullis audit chain v1";

struct Len;

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        AUDIT_KEY_LEN
    }
}

/// The audit key that belongs to a master key.
fn derive(master: &[u8; 32]) -> Option<AuditKey> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(master);
    let mut secret = Zeroizing::new([0u8; AUDIT_KEY_LEN]);
    prk.expand(&[LABEL], Len).ok()?.fill(secret.as_mut()).ok()?;
    Some(AuditKey::new(&secret))
}

/// The chain's keys: the configured audit keys when there are any (first links, all
/// verify), otherwise one derived from each master key (the current one links).
/// Configured keys replace the derived ones rather than join them: a separate audit key
/// is there so that whoever holds the master key still cannot rewrite the log.
pub fn audit_keys(master: &MasterKeys, configured: Option<&MasterKeys>) -> Option<AuditKeys> {
    let keys = match configured {
        Some(own) => own
            .iter()
            .map(|k| AuditKey::new(k.expose_secret()))
            .collect(),
        None => master
            .iter()
            .map(|k| derive(k.expose_secret()))
            .collect::<Option<Vec<_>>>()?,
    };
    AuditKeys::new(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::master_key::MasterKey;

    #[test]
    fn derived_keys_are_stable_distinct_and_not_the_master_key() {
        let a = MasterKeys::from(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
        );
        let again = MasterKeys::from(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
        );
        let b = MasterKeys::from(MasterKey::generate().unwrap());
        let id = |k: &MasterKeys| audit_keys(k, None).unwrap().ids();
        assert_eq!(id(&a), id(&again));
        assert_ne!(id(&a), id(&b));
        // The derived key is not the master key: their fingerprints differ.
        assert_ne!(id(&a), vec![a.current().fingerprint()]);
        // Configured keys replace the derived ones and are named by their fingerprint.
        let own = MasterKeys::from(MasterKey::generate().unwrap());
        assert_eq!(
            audit_keys(&a, Some(&own)).unwrap().ids(),
            vec![own.current().fingerprint()]
        );
    }
}
