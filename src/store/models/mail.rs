//! The outbox (`mail_outbox`): messages waiting for the background worker (`crate::mail`),
//! and what became of them. A replica claims a row with one guarded `UPDATE` (`claim`), so
//! of two replicas asking at once exactly one gets it; every later write names the claimer,
//! so a replica whose claim ran out and was taken over changes nothing.

use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::mail_outbox;

/// Waiting to be sent (or retried).
pub const QUEUED: &str = "queued";
/// Accepted by the mail server (or, with the `log` backend, written to the log).
pub const SENT: &str = "sent";
/// Given up: too many attempts, too old, or refused for good by the server.
pub const FAILED: &str = "failed";

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct MailRow {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

// Bodies carry single-use links (password reset, verification): never in Debug output.
impl std::fmt::Debug for MailRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailRow")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("claimed_by", &self.claimed_by)
            .field("claimed_until", &self.claimed_until)
            .field("created_at", &self.created_at)
            .field("finished_at", &self.finished_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConnection, row: &MailRow) -> Result<(), StoreError> {
    diesel::insert_into(mail_outbox::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Claims up to `limit` queued messages due at `now` for `holder` until `until`, oldest
/// first, and returns them. Each claim is one `UPDATE ... WHERE` nobody holds a live claim:
/// a row two replicas reach at once goes to the one whose update lands first (Postgres
/// re-checks the condition on the row the other committed; SQLite writes one at a time),
/// and the other's update changes nothing.
pub fn claim(
    conn: &mut DbConnection,
    holder: &str,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<MailRow>, StoreError> {
    let unclaimed = || {
        mail_outbox::claimed_until
            .is_null()
            .or(mail_outbox::claimed_until.lt(now))
    };
    let due: Vec<String> = mail_outbox::table
        .select(mail_outbox::id)
        .filter(mail_outbox::state.eq(QUEUED))
        .filter(mail_outbox::next_attempt_at.le(now))
        .filter(unclaimed())
        .order((mail_outbox::next_attempt_at, mail_outbox::id))
        .limit(limit)
        .load(conn)?;
    let mut claimed = Vec::with_capacity(due.len());
    for id in due {
        let won = diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq(&id))
                .filter(mail_outbox::state.eq(QUEUED))
                .filter(unclaimed()),
        )
        .set((
            mail_outbox::claimed_by.eq(holder),
            mail_outbox::claimed_until.eq(until),
        ))
        .execute(conn)?;
        if won == 1 {
            claimed.push(id);
        }
    }
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(mail_outbox::table
        .select(MailRow::as_select())
        .filter(mail_outbox::id.eq_any(&claimed))
        .filter(mail_outbox::claimed_by.eq(holder))
        .order((mail_outbox::next_attempt_at, mail_outbox::id))
        .load(conn)?)
}

/// The row `holder` claimed was sent; false when the claim was no longer `holder`'s.
pub fn sent(
    conn: &mut DbConnection,
    id: &str,
    holder: &str,
    attempts: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        mail_outbox::table
            .filter(mail_outbox::id.eq(id))
            .filter(mail_outbox::claimed_by.eq(holder)),
    )
    .set((
        mail_outbox::state.eq(SENT),
        mail_outbox::attempts.eq(attempts),
        mail_outbox::finished_at.eq(Some(now)),
        mail_outbox::claimed_by.eq(None::<String>),
        mail_outbox::claimed_until.eq(None::<i64>),
        mail_outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// An attempt failed: try again at `next_attempt_at` (`Some`), or give up at `now`
/// (`None`). The claim is released either way.
pub fn failed_attempt(
    conn: &mut DbConnection,
    id: &str,
    holder: &str,
    attempts: i64,
    next_attempt_at: Option<i64>,
    error: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let target = mail_outbox::table
        .filter(mail_outbox::id.eq(id))
        .filter(mail_outbox::claimed_by.eq(holder));
    let release = (
        mail_outbox::attempts.eq(attempts),
        mail_outbox::claimed_by.eq(None::<String>),
        mail_outbox::claimed_until.eq(None::<i64>),
        mail_outbox::last_error.eq(Some(error)),
    );
    let n = match next_attempt_at {
        Some(at) => diesel::update(target)
            .set((release, mail_outbox::next_attempt_at.eq(at)))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                release,
                mail_outbox::state.eq(FAILED),
                mail_outbox::finished_at.eq(Some(now)),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Messages still waiting to be sent (claimed or not).
pub fn count_queued(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(mail_outbox::table
        .filter(mail_outbox::state.eq(QUEUED))
        .count()
        .get_result(conn)?)
}

/// Every row, oldest first (tests and diagnostics; the bodies stay in the rows).
pub fn all(conn: &mut DbConnection) -> Result<Vec<MailRow>, StoreError> {
    Ok(mail_outbox::table
        .select(MailRow::as_select())
        .order((mail_outbox::created_at, mail_outbox::id))
        .load(conn)?)
}
