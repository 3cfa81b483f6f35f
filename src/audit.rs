//! Security events, stored as a keyed chain (each row carries an HMAC-SHA-256 over the row
//! before it and its own content) and echoed to the log as structured lines for log
//! shippers. Details never carry secrets: callers pass identifiers, never passwords,
//! tokens or client secrets.
//!
//! The chain itself (the event, its link, the append on a connection) lives in
//! `store::audit`, so a store operation can commit a change and its audit row together;
//! this module is the facade: `record` for an event on its own, `verify` for the chain.
//!
//! What the key buys: someone who can write to the database but does not hold the audit
//! key cannot change, insert or reorder a row and recompute the links after it. What it
//! cannot buy: cutting rows off the end leaves a shorter chain that still verifies; a head
//! written down earlier (`verify_from`, `audit verify --head SEQ:HASH`) finds that.

use serde::Serialize;

use crate::encoding::hex;
pub use crate::store::audit::{
    AUDIT_KEY_LEN, AuditActor, AuditEvent, AuditKey, AuditKeys, CHAIN_KEYED, append,
    keyed_chain_hash, log_event, unkeyed_chain_hash,
};
use crate::store::audit::{append_alone, log_unstored};
use crate::store::models::audit as rows;
use crate::store::{Store, StoreError};

/// Appends an event to the chain and echoes it to the log (target `audit`; one JSON line
/// per event with `log.format = "json"`), with its sequence number and hash so a log
/// archive can anchor the chain's head.
pub async fn record(store: &Store, now: i64, event: AuditEvent) -> Result<(), StoreError> {
    let stored = {
        let event = event.clone();
        let keys = store.audit_keys().clone();
        store
            .run(move |conn| append_alone(conn, &keys, now, &event))
            .await
    };
    match &stored {
        Ok(row) => log_event(&event, row),
        Err(err) => log_unstored(&event, err),
    }
    stored.map(|_| ())
}

/// Where the chain first breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: &'static str,
}

/// A row known from outside the database (an audit log line, a note taken at a backup):
/// its sequence number and hash, written `SEQ:HASH` with the hash in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainHead {
    pub seq: i64,
    /// Hex, as `audit query` and the log show it.
    pub hash: String,
}

impl std::str::FromStr for ChainHead {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const SHAPE: &str = "must be SEQ:HASH (a sequence number and its 64 hex digit hash)";
        let (seq, hash) = text.trim().split_once(':').ok_or(SHAPE)?;
        let seq: i64 = seq.parse().map_err(|_| SHAPE)?;
        let hash = hash.to_ascii_lowercase();
        if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SHAPE);
        }
        Ok(Self { seq, hash })
    }
}

pub const ROW_MISSING: &str = "row missing";
pub const LINK_BROKEN: &str = "link to previous row broken";
pub const CONTENT_CHANGED: &str = "row content changed";
pub const UNKNOWN_KEY: &str = "row linked with an audit key that is not configured";
pub const UNKEYED_AFTER_KEYED: &str = "row without the audit key after the chain was keyed";
pub const NEVER_KEYED: &str = "the chain has no row linked with the audit key";
pub const NOT_SEALED: &str = "rows from before the audit key are not sealed by audit.chain_keyed";
pub const HEAD_CUT_OFF: &str = "rows cut off: the known head is gone";
pub const HEAD_DIFFERS: &str = "the known head's hash differs";

/// Walks the whole chain in pages and reports the first row that was changed, deleted,
/// reordered or rewritten without the audit key.
pub async fn verify(store: &Store) -> Result<Option<ChainBreak>, StoreError> {
    verify_with(store, None).await
}

/// `verify`, and also that the chain still holds `head` unchanged: a log cut off after
/// the head was written down is found, which no check of the rows alone can do.
pub async fn verify_from(
    store: &Store,
    head: &ChainHead,
) -> Result<Option<ChainBreak>, StoreError> {
    verify_with(store, Some(head.clone())).await
}

async fn verify_with(
    store: &Store,
    head: Option<ChainHead>,
) -> Result<Option<ChainBreak>, StoreError> {
    let keys = store.audit_keys().clone();
    store
        .run(move |conn| {
            let mut walk = Walk::new(&keys);
            let mut after = 0;
            loop {
                let page = rows::page(conn, after, 500)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for row in page {
                    if let Some(broken) = walk.step(&row)? {
                        return Ok(Some(broken));
                    }
                    if let Some(head) = &head
                        && head.seq == row.seq
                        && head.hash != hex(&row.hash)
                    {
                        return Ok(Some(ChainBreak {
                            seq: row.seq,
                            reason: HEAD_DIFFERS,
                        }));
                    }
                }
            }
            Ok(walk.finish(head.as_ref()))
        })
        .await
}

/// The state of a walk down the chain, one row at a time.
struct Walk<'k> {
    keys: &'k AuditKeys,
    expected_seq: i64,
    prev_hash: Vec<u8>,
    /// Seen a keyed row: every row after it must be keyed too.
    keyed: bool,
}

impl<'k> Walk<'k> {
    fn new(keys: &'k AuditKeys) -> Self {
        Self {
            keys,
            expected_seq: 1,
            prev_hash: vec![0u8; 32],
            keyed: false,
        }
    }

    fn step(&mut self, row: &rows::AuditRow) -> Result<Option<ChainBreak>, StoreError> {
        let broken = |reason| {
            Ok(Some(ChainBreak {
                seq: row.seq,
                reason,
            }))
        };
        if row.seq != self.expected_seq {
            return Ok(Some(ChainBreak {
                seq: self.expected_seq,
                reason: ROW_MISSING,
            }));
        }
        if row.prev_hash != self.prev_hash {
            return broken(LINK_BROKEN);
        }
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let expected = match row.key_id.as_deref() {
            Some(id) => {
                let Some(key) = self.keys.find(id) else {
                    return broken(UNKNOWN_KEY);
                };
                // Plain rows are sealed by the row the upgrade wrote and nothing else:
                // had any keyed row done, someone could delete the seal, rewrite the
                // plain rows, and let the server's next row seal them again.
                if !self.keyed && row.seq > 1 && row.event_type != CHAIN_KEYED {
                    return broken(NOT_SEALED);
                }
                self.keyed = true;
                keyed_chain_hash(key, &self.prev_hash, row).map_err(corrupt)?
            }
            // A plain hash is anyone's to recompute: it is believed only for rows that a
            // keyed row after them seals.
            None if self.keyed => return broken(UNKEYED_AFTER_KEYED),
            None => unkeyed_chain_hash(&self.prev_hash, row).map_err(corrupt)?,
        };
        // Constant time: the expected MAC must not leak byte by byte.
        if !constant_time_eq(&expected, &row.hash) {
            return broken(CONTENT_CHANGED);
        }
        self.prev_hash.clone_from(&row.hash);
        self.expected_seq += 1;
        Ok(None)
    }

    fn finish(self, head: Option<&ChainHead>) -> Option<ChainBreak> {
        let rows = self.expected_seq - 1;
        if let Some(head) = head
            && head.seq > rows
        {
            return Some(ChainBreak {
                seq: rows + 1,
                reason: HEAD_CUT_OFF,
            });
        }
        // Every database at this version was sealed when the key came: a chain of only
        // plain hashes was rewritten from the start by someone without the key.
        if rows > 0 && !self.keyed {
            return Some(ChainBreak {
                seq: rows,
                reason: NEVER_KEYED,
            });
        }
        None
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
