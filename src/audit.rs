//! Security events, stored as a hash chain (each row commits to the one before it) and
//! echoed to the log as structured lines for log shippers. Details never carry secrets:
//! callers pass identifiers, never passwords, tokens or client secrets.
//!
//! The chain itself (the event, its hash, the append on a connection) lives in
//! `store::audit`, so a store operation can commit a change and its audit row together;
//! this module is the facade: `record` for an event on its own, `verify` for the chain.

use serde::Serialize;

pub use crate::store::audit::{AuditEvent, append, chain_hash, log_event};
use crate::store::audit::{append_alone, log_unstored};
use crate::store::models::audit as rows;
use crate::store::{Store, StoreError};

/// Appends an event to the chain and echoes it to the log (target `audit`; one JSON line
/// per event with `log.format = "json"`), with its sequence number and hash so a log
/// archive can anchor the chain's head.
pub async fn record(store: &Store, now: i64, event: AuditEvent) -> Result<(), StoreError> {
    let stored = {
        let event = event.clone();
        store.run(move |conn| append_alone(conn, now, &event)).await
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

/// Walks the whole chain in pages and reports the first row that was changed, deleted or
/// reordered.
pub async fn verify(store: &Store) -> Result<Option<ChainBreak>, StoreError> {
    store
        .run(|conn| {
            let mut expected_seq = 1;
            let mut prev_hash = vec![0u8; 32];
            loop {
                let page = rows::page(conn, expected_seq - 1, 500)?;
                if page.is_empty() {
                    return Ok(None);
                }
                for row in page {
                    if row.seq != expected_seq {
                        return Ok(Some(ChainBreak {
                            seq: expected_seq,
                            reason: "row missing",
                        }));
                    }
                    if row.prev_hash != prev_hash {
                        return Ok(Some(ChainBreak {
                            seq: row.seq,
                            reason: "link to previous row broken",
                        }));
                    }
                    let hash = chain_hash(&prev_hash, &row)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if hash != row.hash {
                        return Ok(Some(ChainBreak {
                            seq: row.seq,
                            reason: "row content changed",
                        }));
                    }
                    prev_hash = row.hash;
                    expected_seq += 1;
                }
            }
        })
        .await
}
