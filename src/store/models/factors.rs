//! Rows of a user's second factors (`user_factors`) and recovery codes (`recovery_codes`).

use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{recovery_codes, user_factors};

pub const TOTP: &str = "totp";
pub const PASSKEY: &str = "passkey";

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_factors)]
pub struct FactorRow {
    pub id: String,
    pub user_id: String,
    /// `totp` or `passkey`.
    pub kind: String,
    pub name: String,
    /// TOTP: the secret, sealed under the master key.
    pub secret_sealed: Option<Vec<u8>>,
    /// Passkey: webauthn-rs's credential as JSON (public key and counter).
    pub credential: Option<String>,
    pub credential_id: Option<Vec<u8>>,
    pub confirmed: bool,
    pub last_step: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl std::fmt::Debug for FactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

pub fn insert(conn: &mut DbConnection, row: &FactorRow) -> Result<(), StoreError> {
    diesel::insert_into(user_factors::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Every factor of a user, confirmed or not, oldest first.
pub fn of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<FactorRow>, StoreError> {
    Ok(user_factors::table
        .filter(user_factors::user_id.eq(user_id))
        .order((user_factors::created_at.asc(), user_factors::id.asc()))
        .select(FactorRow::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<FactorRow>, StoreError> {
    Ok(user_factors::table
        .find(id)
        .select(FactorRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_credential_id(
    conn: &mut DbConnection,
    credential_id: &[u8],
) -> Result<Option<FactorRow>, StoreError> {
    Ok(user_factors::table
        .filter(user_factors::credential_id.eq(credential_id))
        .select(FactorRow::as_select())
        .first(conn)
        .optional()?)
}

/// Drops an enrolment that was never confirmed (a new one replaces it).
pub fn delete_unconfirmed_totp(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        user_factors::table
            .filter(user_factors::user_id.eq(user_id))
            .filter(user_factors::kind.eq(TOTP))
            .filter(user_factors::confirmed.eq(false)),
    )
    .execute(conn)?)
}

/// Takes a TOTP time step for the factor: only a step later than every one taken before,
/// so a code is accepted once, by one replica, even when two present it at once. Confirms
/// an enrolment with its first code.
pub fn take_step(
    conn: &mut DbConnection,
    id: &str,
    step: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        user_factors::table
            .find(id)
            .filter(user_factors::kind.eq(TOTP))
            .filter(
                user_factors::last_step
                    .is_null()
                    .or(user_factors::last_step.lt(step)),
            ),
    )
    .set((
        user_factors::last_step.eq(Some(step)),
        user_factors::confirmed.eq(true),
        user_factors::last_used_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn update_credential(
    conn: &mut DbConnection,
    id: &str,
    credential: &str,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(user_factors::table.find(id))
        .set((
            user_factors::credential.eq(Some(credential)),
            user_factors::last_used_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, user_id: &str, id: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(
        user_factors::table
            .filter(user_factors::user_id.eq(user_id))
            .filter(user_factors::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes every factor and recovery code of a user; answers how many factors there were.
pub fn delete_all(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    let n = diesel::delete(user_factors::table.filter(user_factors::user_id.eq(user_id)))
        .execute(conn)?;
    delete_codes(conn, user_id)?;
    Ok(n)
}

/// Confirmed factors by kind, and recovery codes left.
pub fn counts(conn: &mut DbConnection, user_id: &str) -> Result<(i64, i64, i64), StoreError> {
    let kinds: Vec<String> = user_factors::table
        .filter(user_factors::user_id.eq(user_id))
        .filter(user_factors::confirmed.eq(true))
        .select(user_factors::kind)
        .load(conn)?;
    let totp = kinds.iter().filter(|k| k.as_str() == TOTP).count();
    let passkeys = kinds.iter().filter(|k| k.as_str() == PASSKEY).count();
    let codes = codes_left(conn, user_id)?;
    Ok((
        i64::try_from(totp).unwrap_or(i64::MAX),
        i64::try_from(passkeys).unwrap_or(i64::MAX),
        codes,
    ))
}

pub fn codes_left(conn: &mut DbConnection, user_id: &str) -> Result<i64, StoreError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

pub fn delete_codes(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?,
    )
}

/// A new set of recovery codes voids the old one.
pub fn replace_codes(
    conn: &mut DbConnection,
    user_id: &str,
    digests: &[Vec<u8>],
    now: i64,
) -> Result<(), StoreError> {
    delete_codes(conn, user_id)?;
    // One insert per code: the two-backend connection has no batch insert.
    for d in digests {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::digest.eq(d.as_slice()),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Spends a recovery code: true when it was the user's and not spent before.
pub fn spend_code(
    conn: &mut DbConnection,
    user_id: &str,
    digest: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::digest.eq(digest))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}
