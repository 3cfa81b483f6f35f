use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::login_failures;

/// One throttling key's stored counter, whatever its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub failures: u32,
    pub window_start: i64,
    pub last_failure_at: i64,
}

impl Counter {
    /// (failures, last failure) in a window that started after `window_start_after`, as
    /// `failures` answers; `None` when the window has ended.
    pub fn in_window(&self, window_start_after: i64) -> Option<(u32, i64)> {
        (self.window_start > window_start_after).then_some((self.failures, self.last_failure_at))
    }
}

/// The counters of several keys in one query (a login reads its user's and its IP's).
pub fn counters(conn: &mut DbConnection, keys: &[String]) -> Result<Vec<Counter>, StoreError> {
    let rows: Vec<(String, i32, i64, i64)> = login_failures::table
        .filter(login_failures::throttle_key.eq_any(keys))
        .select((
            login_failures::throttle_key,
            login_failures::failures,
            login_failures::window_start,
            login_failures::last_failure_at,
        ))
        .load(conn)?;
    // A negative count is corrupt: reading it as zero would lift the throttle.
    rows.into_iter()
        .map(|(key, n, window_start, last_failure_at)| {
            let failures = u32::try_from(n).map_err(|_| {
                StoreError::Corrupt(format!("login_failures holds a negative count ({n})"))
            })?;
            Ok(Counter {
                key,
                failures,
                window_start,
                last_failure_at,
            })
        })
        .collect()
}

/// One key's place taken by an attempt (see [`reserve`]): what it takes to give it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub key: String,
    /// Failures in the window, this attempt's included.
    pub failures: u32,
    pub window_start: i64,
    /// When this attempt counted itself, and the latest failure before it.
    pub at: i64,
    pub previous_failure_at: Option<i64>,
}

/// Takes a place for one attempt on every key at once, or on none: in one transaction that
/// first writes each key's row (so the rows stay locked until it commits, on Postgres by the
/// row lock, on SQLite by the write lock taken before anything is read), then reads the
/// counts, asks `admit` and, when it answers `None`, counts the attempt on each key. Parallel
/// attempts thus queue on the counters and each one sees every place taken before it: no
/// more attempts go ahead than the policy allows, whatever their number.
///
/// `keys` pairs each key with the start of its window (a counter whose window started at or
/// before it starts again); `admit` sees the (failures, latest failure) in the window of each
/// key, in the order of `keys`, and answers `Some(refusal)` to take no place.
pub fn reserve<R>(
    conn: &mut DbConnection,
    keys: &[(String, i64)],
    now: i64,
    admit: impl FnOnce(&[Option<(u32, i64)>]) -> Option<R>,
) -> Result<Result<Vec<Reserved>, R>, StoreError> {
    conn.transaction(|conn| {
        // Locked in one order by every attempt, so two attempts sharing two keys cannot
        // each hold one and wait for the other.
        let mut order: Vec<&String> = keys.iter().map(|(k, _)| k).collect();
        order.sort();
        order.dedup();
        for key in order {
            // diesel's multi-backend connection cannot express ON CONFLICT: the same
            // statement is written once and run on the concrete connection.
            macro_rules! ensure_row {
                ($conn:expr) => {
                    diesel::insert_into(login_failures::table)
                        .values((
                            login_failures::throttle_key.eq(key),
                            login_failures::failures.eq(0),
                            login_failures::window_start.eq(now),
                            login_failures::last_failure_at.eq(now),
                        ))
                        .on_conflict_do_nothing()
                        .execute($conn)
                };
            }
            match &mut *conn {
                DbConnection::Sqlite(c) => ensure_row!(c),
                DbConnection::Postgres(c) => ensure_row!(c),
            }?;
            // A write that changes nothing but takes the row's lock for the transaction.
            diesel::update(login_failures::table.filter(login_failures::throttle_key.eq(key)))
                .set(login_failures::failures.eq(login_failures::failures))
                .execute(conn)?;
        }
        let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        let stored = counters(conn, &names)?;
        let seen: Vec<Option<(u32, i64)>> = keys
            .iter()
            .map(|(key, after)| {
                stored
                    .iter()
                    .find(|c| &c.key == key)
                    .and_then(|c| c.in_window(*after))
                    // A row just made for this attempt holds no failure yet.
                    .filter(|(n, _)| *n > 0)
            })
            .collect();
        if let Some(refusal) = admit(&seen) {
            // A refused attempt counts nowhere, so the rows written above only to lock keys
            // seen for the first time go again (as a cleared key's do): otherwise a flood
            // against a locked username from ever new addresses left a row per request.
            diesel::delete(
                login_failures::table
                    .filter(login_failures::throttle_key.eq_any(&names))
                    .filter(login_failures::failures.le(0)),
            )
            .execute(conn)?;
            return Ok(Err(refusal));
        }
        let mut taken = Vec::with_capacity(keys.len());
        for ((key, _), seen) in keys.iter().zip(seen) {
            let reserved = match seen {
                Some((n, last)) => Reserved {
                    key: key.clone(),
                    failures: n.saturating_add(1),
                    window_start: stored
                        .iter()
                        .find(|c| &c.key == key)
                        .map_or(now, |c| c.window_start),
                    at: now,
                    previous_failure_at: Some(last),
                },
                None => Reserved {
                    key: key.clone(),
                    failures: 1,
                    window_start: now,
                    at: now,
                    previous_failure_at: None,
                },
            };
            let count = i32::try_from(reserved.failures).unwrap_or(i32::MAX);
            diesel::update(login_failures::table.filter(login_failures::throttle_key.eq(key)))
                .set((
                    login_failures::failures.eq(count),
                    login_failures::window_start.eq(reserved.window_start),
                    login_failures::last_failure_at.eq(now),
                ))
                .execute(conn)?;
            taken.push(reserved);
        }
        Ok(Ok(taken))
    })
}

/// What a finished attempt gives back of its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveBack {
    /// Its own place only: the key's other failures stay.
    Own,
    /// Every failure counted up to and including its place (a success that clears the
    /// key); a key left with none is removed.
    Clear,
}

/// Gives back a place taken by [`reserve`]. Failures counted after it stay, and so does a
/// new window started since. When nothing was counted after it, the latest failure is
/// again the one before it, so a give-back does not stretch a delay.
pub fn give_back(
    conn: &mut DbConnection,
    place: &Reserved,
    what: GiveBack,
) -> Result<(), StoreError> {
    let count = match what {
        GiveBack::Own => 1,
        GiveBack::Clear => i32::try_from(place.failures).unwrap_or(i32::MAX),
    };
    let own = i32::try_from(place.failures).unwrap_or(i32::MAX);
    let this_key = login_failures::table
        .filter(login_failures::throttle_key.eq(&place.key))
        .filter(login_failures::window_start.eq(place.window_start));
    let untouched = diesel::update(
        this_key
            .filter(login_failures::failures.eq(own))
            .filter(login_failures::last_failure_at.eq(place.at)),
    )
    .set((
        login_failures::failures.eq(own - count),
        login_failures::last_failure_at.eq(place.previous_failure_at.unwrap_or(place.at)),
    ))
    .execute(conn)?;
    if untouched == 0 {
        diesel::update(this_key.filter(login_failures::failures.ge(count)))
            .set(login_failures::failures.eq(login_failures::failures - count))
            .execute(conn)?;
    }
    if what == GiveBack::Clear {
        diesel::delete(
            login_failures::table
                .filter(login_failures::throttle_key.eq(&place.key))
                .filter(login_failures::failures.le(0)),
        )
        .execute(conn)?;
    }
    Ok(())
}
