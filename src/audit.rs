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
//!
//! Volume stays bounded without losing evidence (issue 19): login attempts the throttle
//! refuses before any password check are counted per throttling key and window
//! (`count_throttled`) and each closed window becomes one `login.throttled` event with its
//! count (`flush_throttled`, run by the janitor); `audit.retention_days` prunes the oldest
//! rows (`prune`) behind an `audit.checkpoint` row, keyed like any other, that records the
//! last pruned row's sequence number and hash, so `verify` proves the rest from there.

use diesel::Connection as _;
use serde::Serialize;

use crate::encoding::hex;
use crate::store::audit::append_alone;
pub use crate::store::audit::{
    AUDIT_KEY_LEN, AuditActor, AuditEvent, AuditKey, AuditKeys, CHAIN_KEYED, append,
    keyed_chain_hash, log_event, unkeyed_chain_hash,
};
use crate::store::models::audit::{self as rows, ThrottledRow};
use crate::store::{DbConnection, Store, StoreError};

/// The event of one closed window of throttled login attempts.
pub const LOGIN_THROTTLED: &str = "login.throttled";

/// The event that records a prune: the rows before it are gone, and the first row left
/// links to the hash it names.
pub const CHECKPOINT: &str = "audit.checkpoint";

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
        Err(err) => store.note_unstored(&event, err),
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
pub const HEAD_PRUNED: &str =
    "the known head was pruned (audit.retention_days): write down a newer one";

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
            conn.transaction(|conn| {
                // One snapshot for the whole walk: a prune committing between two pages
                // would otherwise look like rows gone missing.
                rows::snapshot(conn)?;
                verify_in(conn, &keys, head.as_ref())
            })
        })
        .await
}

fn verify_in(
    conn: &mut DbConnection,
    keys: &AuditKeys,
    head: Option<&ChainHead>,
) -> Result<Option<ChainBreak>, StoreError> {
    let mut walk = match Walk::start(conn, keys)? {
        Ok(walk) => walk,
        Err(broken) => return Ok(Some(broken)),
    };
    if let Some(head) = head
        && head.seq < walk.expected_seq
    {
        return Ok(Some(ChainBreak {
            seq: head.seq,
            reason: HEAD_PRUNED,
        }));
    }
    let mut after = walk.expected_seq - 1;
    loop {
        let page = rows::page(conn, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in page {
            if let Some(broken) = walk.step(&row)? {
                return Ok(Some(broken));
            }
            if let Some(head) = head
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
    Ok(walk.finish(head))
}

/// The state of a walk down the chain, one row at a time.
struct Walk<'k> {
    keys: &'k AuditKeys,
    /// The first row the walk expects: 1, or the first left after pruning.
    start_seq: i64,
    expected_seq: i64,
    prev_hash: Vec<u8>,
    /// Seen a keyed row: every row after it must be keyed too.
    keyed: bool,
}

impl<'k> Walk<'k> {
    fn new(keys: &'k AuditKeys) -> Self {
        Self {
            keys,
            start_seq: 1,
            expected_seq: 1,
            prev_hash: vec![0u8; 32],
            keyed: false,
        }
    }

    /// Where the chain starts now: at seq 1 after nothing, or, once pruned, at the first
    /// row left, which must link to the hash that a checkpoint recorded for the row
    /// before it. The checkpoint is believed only when its own MAC holds under one of our
    /// keys (the walk reaches and checks it again in its turn): without the key nobody
    /// can write one, so nobody can cut rows off the start and claim they were pruned.
    fn start(
        conn: &mut DbConnection,
        keys: &'k AuditKeys,
    ) -> Result<Result<Self, ChainBreak>, StoreError> {
        let mut walk = Self::new(keys);
        let first = match rows::first_seq(conn)? {
            Some(first) if first > 1 => first,
            // Empty, or never pruned.
            Some(_) | None => return Ok(Ok(walk)),
        };
        let mut pruned_through = 0;
        for row in rows::of_type(conn, CHECKPOINT)? {
            let Some(mark) = Checkpoint::of(&row) else {
                continue;
            };
            if !genuine(keys, &row) {
                continue;
            }
            if mark.through_seq == first - 1 {
                walk.start_seq = first;
                walk.expected_seq = first;
                walk.prev_hash = mark.through_hash;
                return Ok(Ok(walk));
            }
            if mark.through_seq < first {
                pruned_through = pruned_through.max(mark.through_seq);
            }
        }
        // Rows are gone from the start and no checkpoint accounts for them: the first
        // missing one is right after the last prune we can prove.
        Ok(Err(ChainBreak {
            seq: pruned_through + 1,
            reason: ROW_MISSING,
        }))
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
                // The first row a checkpoint vouches for needs no seal: the checkpoint's
                // key already proved its link.
                if !self.keyed && row.seq > self.start_seq && row.event_type != CHAIN_KEYED {
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
        let last = self.expected_seq - 1;
        if let Some(head) = head
            && head.seq > last
        {
            return Some(ChainBreak {
                seq: last + 1,
                reason: HEAD_CUT_OFF,
            });
        }
        // Every database at this version was sealed when the key came: a chain of only
        // plain hashes was rewritten from the start by someone without the key.
        if last >= self.start_seq && !self.keyed {
            return Some(ChainBreak {
                seq: last,
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

/// What a checkpoint row records about the rows pruned before it.
struct Checkpoint {
    through_seq: i64,
    through_hash: Vec<u8>,
}

impl Checkpoint {
    fn of(row: &rows::AuditRow) -> Option<Self> {
        let details: serde_json::Value = serde_json::from_str(&row.details).ok()?;
        let through_seq = details.get("pruned_through_seq")?.as_i64()?;
        let through_hash = crate::encoding::unhex(details.get("pruned_through_hash")?.as_str()?)?;
        Some(Self {
            through_seq,
            through_hash,
        })
    }
}

/// Whether `row` was written with one of our keys: its MAC over its own recorded link and
/// content holds, whatever the rows around it.
fn genuine(keys: &AuditKeys, row: &rows::AuditRow) -> bool {
    let Some(key) = row.key_id.as_deref().and_then(|id| keys.find(id)) else {
        return false;
    };
    keyed_chain_hash(key, &row.prev_hash, row).is_ok_and(|mac| constant_time_eq(&mac, &row.hash))
}

/// The fixed window of `window_secs` that `now` falls in, as (start, end): aligned to the
/// epoch, so every replica counts an attempt into the same row.
pub fn throttled_window(now: i64, window_secs: i64) -> (i64, i64) {
    let secs = window_secs.max(1);
    let start = now - now.rem_euclid(secs);
    (start, start.saturating_add(secs))
}

/// Counts one login attempt that the throttle refused before any password check under
/// `key` (the throttling key that refused it: `user:NAME`, `ip:ADDRESS`, `client:ID`) in
/// its window: one statement, one row per key and window however many attempts come.
/// Every verified wrong password is still its own `login.failure`; only refusals are
/// counted here.
pub async fn count_throttled(
    store: &Store,
    key: String,
    now: i64,
    window_secs: i64,
) -> Result<(), StoreError> {
    let window = throttled_window(now, window_secs);
    store
        .run(move |conn| rows::count_throttled(conn, &key, window, now))
        .await
}

/// Writes every window of throttled attempts that has ended by `now` (up to `limit`) to
/// the chain as one `login.throttled` event each, and deletes its row in the same
/// transaction, so an attempt is counted in exactly one event. Returns the events written.
pub async fn flush_throttled(store: &Store, now: i64, limit: i64) -> Result<usize, StoreError> {
    let keys = store.audit_keys().clone();
    let written = store
        .run(move |conn| {
            let due = rows::due_throttled(conn, now, limit)?;
            if due.is_empty() {
                return Ok(Vec::new());
            }
            conn.transaction(|conn| {
                let mut written = Vec::with_capacity(due.len());
                for window in &due {
                    // Counted on since it was read (a replica whose clock is behind), or
                    // taken by another replica: left for the next pass.
                    if rows::take_throttled(conn, window)? == 0 {
                        continue;
                    }
                    let event = throttled_event(window);
                    let row = append(conn, &keys, now, &event)?;
                    written.push((event, row));
                }
                Ok(written)
            })
        })
        .await?;
    for (event, row) in &written {
        log_event(event, row);
    }
    Ok(written.len())
}

fn throttled_event(window: &ThrottledRow) -> AuditEvent {
    AuditEvent::new(LOGIN_THROTTLED)
        .by(AuditActor::System)
        .subject(window.throttle_key.clone())
        .details(serde_json::json!({
            "key": window.throttle_key,
            "window_start": window.window_start,
            "window_end": window.window_end,
            "attempts": window.attempts,
            "first_at": window.first_at,
            "last_at": window.last_at,
            "outcome": "throttled",
        }))
}

/// What one prune did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pruned {
    /// No row old enough (or only the newest, which is always kept).
    Nothing,
    /// Rows `from_seq..=through_seq` deleted behind the checkpoint at `checkpoint_seq`.
    Rows {
        from_seq: i64,
        through_seq: i64,
        checkpoint_seq: i64,
    },
    /// The rows to prune do not verify: they are kept, as the evidence they are.
    Refused(ChainBreak),
}

/// Deletes up to `limit` of the oldest rows written before `before`, and appends the
/// `audit.checkpoint` that records the last one's sequence number and hash, in one
/// transaction. The rows are verified first: a broken stretch is never pruned (nor
/// blessed by a checkpoint); pruning stops there and says so. The newest row is always
/// kept, so the checkpoint links to a row that is still there.
///
/// Concurrent appends go on at the head meanwhile (they touch no row pruned here);
/// concurrent prunes are serialised by `rows::lock_chain_start`, and a delete that does
/// not remove exactly the rows verified rolls everything back.
pub async fn prune(store: &Store, before: i64, now: i64, limit: i64) -> Result<Pruned, StoreError> {
    let keys = store.audit_keys().clone();
    let done = store
        .run(move |conn| conn.transaction(|conn| prune_in(conn, &keys, before, now, limit)))
        .await?;
    if let Some((event, row)) = &done.1 {
        log_event(event, row);
    }
    Ok(done.0)
}

type Recorded = Option<(AuditEvent, rows::AuditRow)>;

fn prune_in(
    conn: &mut DbConnection,
    keys: &AuditKeys,
    before: i64,
    now: i64,
    limit: i64,
) -> Result<(Pruned, Recorded), StoreError> {
    rows::lock_chain_start(conn)?;
    let (Some(first), Some((head, _))) = (rows::first_seq(conn)?, rows::head(conn)?) else {
        return Ok((Pruned::Nothing, None));
    };
    // The prefix of rows older than `before` (a row from a replica whose clock ran ahead
    // ends it early, which only delays pruning), never the head, at most `limit` rows.
    let old_through = rows::first_seq_from(conn, before)?.map_or(head, |young| young - 1);
    let through = old_through
        .min(head - 1)
        .min(first.saturating_add(limit.max(1) - 1));
    if through < first {
        return Ok((Pruned::Nothing, None));
    }
    let mut walk = match Walk::start(conn, keys)? {
        Ok(walk) => walk,
        Err(broken) => return Ok((Pruned::Refused(broken), None)),
    };
    // Rows from before the chain was keyed are proven only by the seal after them: walk
    // on to it when the stretch to prune ends before it.
    let mut after = first - 1;
    let mut through_hash = None;
    loop {
        let page = rows::page(conn, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in page {
            if row.seq > through && walk.keyed {
                break;
            }
            if let Some(broken) = walk.step(&row)? {
                return Ok((Pruned::Refused(broken), None));
            }
            if row.seq == through {
                through_hash = Some(row.hash.clone());
            }
        }
        if after >= through && walk.keyed {
            break;
        }
    }
    let Some(through_hash) = through_hash.filter(|_| walk.keyed) else {
        let last = walk.expected_seq - 1;
        return Ok((
            Pruned::Refused(ChainBreak {
                seq: last,
                reason: NEVER_KEYED,
            }),
            None,
        ));
    };
    let expected = usize::try_from(through - first + 1).unwrap_or(usize::MAX);
    if rows::delete_through(conn, through)? != expected {
        // Someone else removed rows meanwhile: roll back, the next pass looks again.
        return Err(StoreError::Conflict);
    }
    let event = AuditEvent::new(CHECKPOINT)
        .by(AuditActor::System)
        .details(serde_json::json!({
            "pruned_from_seq": first,
            "pruned_through_seq": through,
            "pruned_through_hash": hex(&through_hash),
            "pruned_rows": through - first + 1,
            "older_than": before,
        }));
    let row = append(conn, keys, now, &event)?;
    let pruned = Pruned::Rows {
        from_seq: first,
        through_seq: through,
        checkpoint_seq: row.seq,
    };
    Ok((pruned, Some((event, row))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_windows_are_fixed_and_shared() {
        assert_eq!(
            throttled_window(1_800_000_000, 300),
            (1_800_000_000, 1_800_000_300)
        );
        assert_eq!(
            throttled_window(1_800_000_299, 300),
            (1_800_000_000, 1_800_000_300)
        );
        assert_eq!(
            throttled_window(1_800_000_300, 300),
            (1_800_000_300, 1_800_000_600)
        );
        // Before the epoch, and a window of zero treated as one second: never a panic.
        assert_eq!(throttled_window(-1, 300), (-300, 0));
        assert_eq!(throttled_window(7, 0), (7, 8));
    }
}
