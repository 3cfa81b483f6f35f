use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::login_failures;

/// Failures counted for `key` in the current window, and when the last one happened.
pub fn failures(
    conn: &mut DbConnection,
    key: &str,
    window_start_after: i64,
) -> Result<Option<(u32, i64)>, StoreError> {
    Ok(counters(conn, &[key.to_owned()])?
        .first()
        .and_then(|c| c.in_window(window_start_after)))
}

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

/// Counts one failure for `key`: a new window if the old one ended before
/// `window_start_after`, else one more in the current window. Each step is one statement
/// whose row count says whether it applied, so replicas racing lose no failure.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    now: i64,
    window_start_after: i64,
) -> Result<(), StoreError> {
    let restarted = diesel::update(
        login_failures::table
            .filter(login_failures::throttle_key.eq(key))
            .filter(login_failures::window_start.le(window_start_after)),
    )
    .set((
        login_failures::failures.eq(1),
        login_failures::window_start.eq(now),
        login_failures::last_failure_at.eq(now),
    ))
    .execute(conn)?;
    if restarted == 1 {
        return Ok(());
    }
    let counted =
        diesel::update(login_failures::table.filter(login_failures::throttle_key.eq(key)))
            .set((
                login_failures::failures.eq(login_failures::failures + 1),
                login_failures::last_failure_at.eq(now),
            ))
            .execute(conn)?;
    if counted == 1 {
        return Ok(());
    }
    let inserted = diesel::insert_into(login_failures::table)
        .values((
            login_failures::throttle_key.eq(key),
            login_failures::failures.eq(1),
            login_failures::window_start.eq(now),
            login_failures::last_failure_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        // Another replica inserted first: count ours on its row.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            diesel::update(login_failures::table.filter(login_failures::throttle_key.eq(key)))
                .set((
                    login_failures::failures.eq(login_failures::failures + 1),
                    login_failures::last_failure_at.eq(now),
                ))
                .execute(conn)?;
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(login_failures::table.find(key)).execute(conn)?;
    Ok(())
}
