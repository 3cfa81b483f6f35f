//! The stored rotation state machine: [`KeyStore`] moves keys from `pending` to `active`
//! to `retired` to deleted in the database, one replica at a time under a lease, audits
//! each step, and swaps in a freshly built [`KeySet`] after every change and on reload.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use diesel::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::key_set::{KeySet, build_set};
use super::{ALG, KeyError};
use crate::audit::{self, AuditActor, AuditEvent};
use crate::crypto::jwt::{Expected, JwtError};
use crate::crypto::key_material::{self, MasterKeys, SealedKey};
use crate::store::models::keys::{self as rows, ACTIVE, PENDING, RETIRED, SigningKeyRow};
use crate::store::{Store, StoreError};

const LEASE: &str = "signing-keys";
/// A replica that met an unknown `kid` reloads at most this often, so forged tokens with
/// random kids cannot turn into a database load.
const UNKNOWN_KID_RELOAD_SECS: i64 = 5;

/// Timing rules, from configuration.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub rsa_bits: usize,
    pub rotation_period: i64,
    /// How long before signing a key must be published: 2 x the JWKS max-age.
    pub publish_lead: i64,
    /// How long a retired key stays published: the longest token lifetime plus clock skew
    /// plus one reload interval (a replica may sign with a key for that long after another
    /// replica retired it).
    pub retire_grace: i64,
    pub jwks_max_age: i64,
}

/// What a forced rotation did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RotationOutcome {
    /// The key that signs from `signs_from` on.
    pub next_kid: String,
    pub signs_from: i64,
    /// True when the switch happened now.
    pub switched: bool,
}

pub struct KeyStore {
    store: Store,
    master: Arc<MasterKeys>,
    policy: KeyPolicy,
    /// Names this replica in the lease table.
    replica: String,
    current: RwLock<Arc<KeySet>>,
    last_reload: AtomicI64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("replica", &self.replica)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Loads the key set, creating the first key on a fresh database. Fails (and changes
    /// nothing) when a stored key cannot be opened with the configured master keys.
    pub async fn open(
        store: Store,
        master: Arc<MasterKeys>,
        policy: KeyPolicy,
        now: i64,
    ) -> Result<Self, KeyError> {
        let loaded = {
            let master = Arc::clone(&master);
            load(&store, master, now).await?
        };
        let keystore = Self {
            store,
            master,
            policy,
            replica: uuid::Uuid::now_v7().to_string(),
            current: RwLock::new(Arc::new(loaded)),
            last_reload: AtomicI64::new(now),
        };
        if keystore.current().active_kid().is_none() {
            keystore.advance(now).await?;
        }
        Ok(keystore)
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// The set in use now; cheap (an Arc clone).
    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn replace(&self, set: KeySet) {
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    /// Re-reads keys from the database. On failure the old set stays in use.
    pub async fn reload(&self, now: i64) -> Result<(), KeyError> {
        let set = load(&self.store, Arc::clone(&self.master), now).await?;
        self.replace(set);
        self.last_reload.store(now, Ordering::SeqCst);
        Ok(())
    }

    /// Signs `claims` as a compact JWS with the active key.
    pub fn sign<C: Serialize + ?Sized>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        self.current().sign(typ, claims)
    }

    /// Verifies a token against the published keys; an unknown `kid` triggers one
    /// (rate-limited) reload, since another replica may have just created the key.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<T, JwtError> {
        match self.current().verify(token, expected) {
            Err(JwtError::UnknownKid(kid)) => {
                let last = self.last_reload.load(Ordering::SeqCst);
                if expected.now - last < UNKNOWN_KID_RELOAD_SECS {
                    return Err(JwtError::UnknownKid(kid));
                }
                // Claim the reload slot before the await so concurrent callers skip it.
                self.last_reload.store(expected.now, Ordering::SeqCst);
                if let Err(err) = self.reload(expected.now).await {
                    tracing::warn!(error = %err, "key reload after unknown kid failed");
                }
                self.current().verify(token, expected)
            }
            other => other,
        }
    }

    /// One step of the lifecycle at `now`, if this replica holds the lease: create the
    /// first key, publish the next one ahead of time, switch when it is due, delete
    /// retired keys whose tokens have all expired. Then reload.
    pub async fn advance(&self, now: i64) -> Result<(), KeyError> {
        let (replica, lease_until) = (self.replica.clone(), now + 60);
        let leased = self
            .store
            .run(move |conn| rows::try_lease(conn, LEASE, &replica, now, lease_until))
            .await?;
        if leased {
            let result = self.advance_locked(now).await;
            let replica = self.replica.clone();
            let released = self
                .store
                .run(move |conn| rows::release_lease(conn, LEASE, &replica))
                .await;
            result?;
            released?;
        }
        self.reload(now).await
    }

    async fn advance_locked(&self, now: i64) -> Result<(), KeyError> {
        let all = self.store.run(rows::all).await?;
        let active = all.iter().find(|r| r.status == ACTIVE && r.alg == ALG);
        let pending = all.iter().find(|r| r.status == PENDING && r.alg == ALG);
        let p = &self.policy;
        match (active, pending) {
            // A fresh database: nothing can have cached a JWKS yet, so sign at once.
            (None, None) => {
                self.create_key(now, ACTIVE, now).await?;
            }
            // Nothing signs: waiting for the publish lead would only mean an outage.
            (None, Some(pending)) => {
                self.switch(None, &pending.kid, now).await?;
            }
            (Some(active), None) => {
                let due = active.activated_at.unwrap_or(active.created_at) + p.rotation_period;
                if now >= due - p.publish_lead {
                    self.create_key(now, PENDING, due.max(now + p.publish_lead))
                        .await?;
                }
            }
            (Some(active), Some(pending)) => {
                if now >= pending.activate_after {
                    self.switch(Some(&active.kid), &pending.kid, now).await?;
                }
            }
        }
        for row in all.iter().filter(|r| r.status == RETIRED) {
            if row.delete_after.is_some_and(|t| t <= now) {
                let kid = row.kid.clone();
                if self.store.run(move |conn| rows::delete(conn, &kid)).await? {
                    self.audit(now, "key.deleted", &row.kid, serde_json::json!({}))
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn audit(
        &self,
        now: i64,
        event: &'static str,
        kid: &str,
        details: serde_json::Value,
    ) -> Result<(), KeyError> {
        audit::record(
            &self.store,
            now,
            AuditEvent::new(event)
                .by(AuditActor::System)
                .subject(kid.to_owned())
                .details(details),
        )
        .await?;
        Ok(())
    }

    /// Generates, seals and stores a key. Returns its kid, or None when another replica
    /// won the race for the same slot (the unique index said no).
    async fn create_key(
        &self,
        now: i64,
        status: &'static str,
        activate_after: i64,
    ) -> Result<Option<String>, KeyError> {
        let bits = self.policy.rsa_bits;
        let master = Arc::clone(&self.master);
        let row = tokio::task::spawn_blocking(move || -> Result<SigningKeyRow, KeyError> {
            let kid = uuid::Uuid::now_v7().simple().to_string();
            let der = key_material::generate_rsa_private_key(bits).map_err(|source| {
                KeyError::Material {
                    kid: kid.clone(),
                    source,
                }
            })?;
            let jwk =
                key_material::public_jwk(&der, &kid).map_err(|source| KeyError::Material {
                    kid: kid.clone(),
                    source,
                })?;
            let sealed =
                key_material::seal(&master, &kid, &der).map_err(|source| KeyError::Material {
                    kid: kid.clone(),
                    source,
                })?;
            Ok(SigningKeyRow {
                public_jwk: serde_json::to_string(&jwk).map_err(|_| KeyError::Generation)?,
                kid,
                alg: ALG.to_owned(),
                status: status.to_owned(),
                sealed_private_key: sealed.into_bytes(),
                created_at: now,
                activate_after,
                activated_at: (status == ACTIVE).then_some(now),
                retired_at: None,
                delete_after: None,
            })
        })
        .await
        .map_err(|_| KeyError::Generation)??;
        let kid = row.kid.clone();
        match self.store.run(move |conn| rows::insert(conn, &row)).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Ok(None),
            Err(other) => return Err(other.into()),
        }
        self.audit(
            now,
            "key.created",
            &kid,
            serde_json::json!({ "status": status, "activate_after": activate_after }),
        )
        .await?;
        if status == ACTIVE {
            self.audit(now, "key.activated", &kid, serde_json::json!({}))
                .await?;
        }
        tracing::info!(kid = %kid, status, activate_after, "signing key created");
        Ok(Some(kid))
    }

    /// Retires `old` (if any) and activates `new` in one transaction; a replica that lost
    /// the race finds the guarded updates touching no row and rolls back.
    async fn switch(&self, old: Option<&str>, new: &str, now: i64) -> Result<bool, KeyError> {
        let delete_after = now + self.policy.retire_grace;
        let (old_kid, new_kid) = (old.map(str::to_owned), new.to_owned());
        let switched = self
            .store
            .run(move |conn| {
                let result = conn.transaction(|conn| {
                    if let Some(old) = &old_kid
                        && !rows::retire(conn, old, now, delete_after)?
                    {
                        return Err(StoreError::Conflict);
                    }
                    if !rows::activate(conn, &new_kid, now)? {
                        return Err(StoreError::Conflict);
                    }
                    Ok(())
                });
                match result {
                    Ok(()) => Ok(true),
                    Err(StoreError::Conflict) => Ok(false),
                    Err(other) => Err(other),
                }
            })
            .await?;
        if switched {
            if let Some(old) = old {
                self.audit(
                    now,
                    "key.retired",
                    old,
                    serde_json::json!({ "delete_after": delete_after }),
                )
                .await?;
            }
            self.audit(now, "key.activated", new, serde_json::json!({}))
                .await?;
            tracing::info!(kid = %new, retired = ?old, "signing key rotated");
        }
        Ok(switched)
    }

    /// `keys rotate`: starts a rotation now without breaking JWKS caches. A pending key
    /// that has been published for the full lead switches at once; otherwise the next key
    /// is scheduled for the earliest safe moment. `immediately` skips the lead (for a
    /// compromised key: relying parties with a cached JWKS will refetch on the unknown
    /// kid, or fail until their cache expires).
    pub async fn rotate(&self, now: i64, immediately: bool) -> Result<RotationOutcome, KeyError> {
        let all = self.store.run(rows::all).await?;
        let active = all
            .iter()
            .find(|r| r.status == ACTIVE && r.alg == ALG)
            .cloned();
        let pending = all
            .iter()
            .find(|r| r.status == PENDING && r.alg == ALG)
            .cloned();
        let lead = self.policy.publish_lead;
        let pending_kid = match pending {
            Some(p) => p.kid,
            None => {
                let at = if immediately { now } else { now + lead };
                self.create_key(now, PENDING, at)
                    .await?
                    .ok_or(KeyError::Refused("another replica is rotating; try again"))?
            }
        };
        let published_at = self
            .store
            .run(rows::all)
            .await?
            .into_iter()
            .find(|r| r.kid == pending_kid)
            .map(|r| r.created_at)
            .ok_or_else(|| KeyError::UnknownKey(pending_kid.clone()))?;
        let safe_at = published_at + lead;
        let outcome = if immediately || now >= safe_at {
            let switched = self
                .switch(active.as_ref().map(|a| a.kid.as_str()), &pending_kid, now)
                .await?;
            if !switched {
                return Err(KeyError::Refused("another replica is rotating; try again"));
            }
            RotationOutcome {
                next_kid: pending_kid,
                signs_from: now,
                switched: true,
            }
        } else {
            let kid = pending_kid.clone();
            self.store
                .run(move |conn| rows::reschedule_pending(conn, &kid, safe_at))
                .await?;
            RotationOutcome {
                next_kid: pending_kid,
                signs_from: safe_at,
                switched: false,
            }
        };
        self.reload(now).await?;
        Ok(outcome)
    }

    /// `keys retire KID`: a pending key is deleted (it never signed); the active key is
    /// replaced at once (as `rotate --immediately`); a retired key cannot be retired again.
    pub async fn retire(&self, kid: &str, now: i64) -> Result<(), KeyError> {
        let all = self.store.run(rows::all).await?;
        let row = all
            .iter()
            .find(|r| r.kid == kid)
            .ok_or_else(|| KeyError::UnknownKey(kid.to_owned()))?;
        match row.status.as_str() {
            PENDING => {
                let k = kid.to_owned();
                self.store.run(move |conn| rows::delete(conn, &k)).await?;
                self.audit(
                    now,
                    "key.deleted",
                    kid,
                    serde_json::json!({ "reason": "retired while pending" }),
                )
                .await?;
                self.reload(now).await
            }
            ACTIVE => self.rotate(now, true).await.map(|_| ()),
            _ => Err(KeyError::Refused("the key is already retired")),
        }
    }

    /// Re-encrypts every key under the first master key; returns how many changed.
    pub async fn rewrap(&self, now: i64) -> Result<usize, KeyError> {
        let all = self.store.run(rows::all).await?;
        let mut changed = 0;
        for row in all {
            let sealed = SealedKey::from_bytes(row.sealed_private_key.clone());
            if sealed.master_key_fingerprint().as_deref()
                == Some(&self.master.current().fingerprint())
            {
                continue;
            }
            let rewrapped =
                key_material::rewrap(&self.master, &row.kid, &sealed).map_err(|source| {
                    KeyError::Material {
                        kid: row.kid.clone(),
                        source,
                    }
                })?;
            let (kid, old, new) = (
                row.kid.clone(),
                row.sealed_private_key,
                rewrapped.into_bytes(),
            );
            if self
                .store
                .run(move |conn| rows::replace_sealed(conn, &kid, &old, &new))
                .await?
            {
                changed += 1;
                self.audit(
                    now,
                    "key.rewrapped",
                    &row.kid,
                    serde_json::json!({ "master_key": self.master.current().fingerprint() }),
                )
                .await?;
            }
        }
        Ok(changed)
    }
}

async fn load(store: &Store, master: Arc<MasterKeys>, now: i64) -> Result<KeySet, KeyError> {
    let all = store.run(rows::all).await?;
    tokio::task::spawn_blocking(move || build_set(&master, &all, now))
        .await
        .map_err(|_| KeyError::Generation)?
}
