//! RFC 7591 initial access tokens: who may register clients when
//! `registration.mode = "initial_access_token"`. Stored as digests with the uses left and
//! an expiry; a use is spent by one conditional update, so parallel registrations with the
//! last use cannot both have it.

use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::initial_access_tokens;

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = initial_access_tokens)]
pub struct InitialAccessTokenRow {
    pub id: String,
    /// SHA-256 of the token; the token itself is shown once and never stored.
    pub digest: Vec<u8>,
    pub uses_left: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

// The digest names a live credential: kept out of logs all the same.
impl std::fmt::Debug for InitialAccessTokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialAccessTokenRow")
            .field("id", &self.id)
            .field("uses_left", &self.uses_left)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConnection, row: &InitialAccessTokenRow) -> Result<(), StoreError> {
    diesel::insert_into(initial_access_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Spends one use of the token with this digest, if it has one left and has not expired
/// at `now`; its id, or `None` (and nothing changed) when it is unknown, spent or
/// expired. The decrement and its guard are one statement.
pub fn spend(
    conn: &mut DbConnection,
    digest: &[u8],
    now: i64,
) -> Result<Option<String>, StoreError> {
    let spent = diesel::update(
        initial_access_tokens::table
            .filter(initial_access_tokens::digest.eq(digest))
            .filter(initial_access_tokens::uses_left.gt(0))
            .filter(initial_access_tokens::expires_at.gt(now)),
    )
    .set(initial_access_tokens::uses_left.eq(initial_access_tokens::uses_left - 1))
    .execute(conn)?;
    if spent == 0 {
        return Ok(None);
    }
    Ok(initial_access_tokens::table
        .filter(initial_access_tokens::digest.eq(digest))
        .select(initial_access_tokens::id)
        .first(conn)
        .optional()?)
}

/// The token with this id (for tests and the admin's view of what is left).
pub fn find(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<InitialAccessTokenRow>, StoreError> {
    Ok(initial_access_tokens::table
        .find(id)
        .select(InitialAccessTokenRow::as_select())
        .first(conn)
        .optional()?)
}
