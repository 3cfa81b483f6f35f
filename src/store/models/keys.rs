use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{leases, signing_keys};

pub const PENDING: &str = "pending";
pub const ACTIVE: &str = "active";
pub const RETIRED: &str = "retired";

/// The janitor's lease (`crate::janitor::tick`): taken for one interval by the replica
/// that runs it, so its expiry tells when a janitor last ran.
pub const JANITOR_LEASE: &str = "janitor";

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    pub status: String,
    pub sealed_private_key: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub activate_after: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub delete_after: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("status", &self.status)
            .field("sealed_private_key", &"<sealed>")
            .finish_non_exhaustive()
    }
}

pub fn all(conn: &mut DbConnection) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .select(SigningKeyRow::as_select())
        .order(signing_keys::created_at.asc())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// `pending -> active`, only if the key is still pending. Returns whether it moved.
pub fn activate(conn: &mut DbConnection, kid: &str, now: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::status.eq(PENDING)),
    )
    .set((
        signing_keys::status.eq(ACTIVE),
        signing_keys::activated_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// `active -> retired`, only if the key is still active.
pub fn retire(
    conn: &mut DbConnection,
    kid: &str,
    now: i64,
    delete_after: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::status.eq(ACTIVE)),
    )
    .set((
        signing_keys::status.eq(RETIRED),
        signing_keys::retired_at.eq(Some(now)),
        signing_keys::delete_after.eq(Some(delete_after)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn reschedule_pending(
    conn: &mut DbConnection,
    kid: &str,
    activate_after: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::status.eq(PENDING)),
    )
    .set(signing_keys::activate_after.eq(activate_after))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn delete(conn: &mut DbConnection, kid: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(signing_keys::table.find(kid)).execute(conn)? == 1)
}

pub fn replace_sealed(
    conn: &mut DbConnection,
    kid: &str,
    old: &[u8],
    new: &[u8],
) -> Result<bool, StoreError> {
    let n = diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::sealed_private_key.eq(old)),
    )
    .set(signing_keys::sealed_private_key.eq(new))
    .execute(conn)?;
    Ok(n == 1)
}

/// Takes or renews the lease `name` for `holder` until `expires_at`, if it is free,
/// expired, or already held by `holder`. Works the same on both backends: an insert
/// that may conflict, then a guarded update whose row count says who won.
pub fn try_lease(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let inserted = diesel::insert_into(leases::table)
        .values((
            leases::name.eq(name),
            leases::holder.eq(holder),
            leases::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => return Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {}
        Err(other) => return Err(other.into()),
    }
    let n = diesel::update(
        leases::table
            .filter(leases::name.eq(name))
            .filter(leases::expires_at.lt(now).or(leases::holder.eq(holder))),
    )
    .set((leases::holder.eq(holder), leases::expires_at.eq(expires_at)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn release_lease(conn: &mut DbConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    diesel::delete(
        leases::table
            .filter(leases::name.eq(name))
            .filter(leases::holder.eq(holder)),
    )
    .execute(conn)?;
    Ok(())
}

/// The lease names under which each running server says it is there (`note_replica`).
const REPLICA_PREFIX: &str = "replica:";

/// Says that the server `holder` runs on this database until `expires_at`, and forgets
/// servers whose word ran out. Every server calls it on each janitor tick, whether or not
/// it wins the janitor's own lease, so `live_replicas` counts processes sharing the
/// database: on SQLite, more than one is a deployment the backend cannot serve (see
/// `crate::manage::doctor`). One upsert and one bounded delete per tick.
pub fn note_replica(
    conn: &mut DbConnection,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    let name = format!("{REPLICA_PREFIX}{holder}");
    // Nobody else holds our random name: this takes it or renews our own row.
    try_lease(conn, &name, holder, now, expires_at)?;
    diesel::delete(
        leases::table
            .filter(leases::name.like(format!("{REPLICA_PREFIX}%")))
            .filter(leases::expires_at.lt(now)),
    )
    .execute(conn)?;
    Ok(())
}

/// How many servers said they run on this database and whose word holds at `now`.
pub fn live_replicas(conn: &mut DbConnection, now: i64) -> Result<i64, StoreError> {
    Ok(leases::table
        .filter(leases::name.like(format!("{REPLICA_PREFIX}%")))
        .filter(leases::expires_at.ge(now))
        .count()
        .get_result(conn)?)
}
