//! The rows behind agreement across replicas (see `store::agreement` for the protocol):
//! the revocation epoch the triggers bump, and each replica's lease. Lease expiry is read
//! off the database's clock, never a replica's, so replicas need not agree on the time.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{replica_leases, revocation_epoch};

/// The database's clock now, in Unix milliseconds.
pub(crate) fn now_ms(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let now = match conn {
        // clock_timestamp(), not now(): now() is when the transaction began.
        DbConnection::Postgres(c) => diesel::select(sql::<BigInt>(
            "(extract(epoch from clock_timestamp()) * 1000)::bigint",
        ))
        .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::select(sql::<BigInt>(
            "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        ))
        .get_result(c)?,
    };
    Ok(now)
}

/// The committed revocation epoch.
pub fn current_epoch(conn: &mut DbConnection) -> Result<u64, StoreError> {
    let epoch: i64 = revocation_epoch::table
        .filter(revocation_epoch::id.eq(1))
        .select(revocation_epoch::epoch)
        .get_result(conn)?;
    u64::try_from(epoch).map_err(|_| StoreError::Corrupt(format!("revocation epoch {epoch}")))
}

/// Records that replica `id` has applied every revocation up to `applied` and holds a
/// lease for `lease_ms` from now by the database's clock; returns the epoch committed
/// now, which may be newer than `applied`.
pub fn renew(
    conn: &mut DbConnection,
    id: &str,
    applied: u64,
    lease_ms: i64,
) -> Result<u64, StoreError> {
    let applied = i64::try_from(applied)
        .map_err(|_| StoreError::Corrupt(format!("revocation epoch {applied}")))?;
    // Read first: a revocation committed between the two statements is simply learned at
    // the next renewal, and until then this lease shows the older epoch, so its writer
    // waits for this replica.
    let current = current_epoch(conn)?;
    let expires_at_ms = now_ms(conn)?.saturating_add(lease_ms);
    // Update first, insert the first time: the multi-backend connection has no upsert,
    // and only this replica ever writes its row.
    let updated = diesel::update(replica_leases::table.filter(replica_leases::id.eq(id)))
        .set((
            replica_leases::epoch.eq(applied),
            replica_leases::expires_at_ms.eq(expires_at_ms),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(replica_leases::table)
            .values((
                replica_leases::id.eq(id),
                replica_leases::epoch.eq(applied),
                replica_leases::expires_at_ms.eq(expires_at_ms),
            ))
            .execute(conn)?;
    }
    Ok(current)
}

/// How many replicas other than `me` hold a live lease but have not yet applied
/// `epoch`: a revocation at `epoch` is seen everywhere once this is zero.
pub fn lagging(conn: &mut DbConnection, me: &str, epoch: u64) -> Result<i64, StoreError> {
    let epoch = i64::try_from(epoch).map_err(|_| StoreError::Corrupt(format!("epoch {epoch}")))?;
    let now = now_ms(conn)?;
    Ok(replica_leases::table
        .filter(replica_leases::id.ne(me))
        .filter(replica_leases::epoch.lt(epoch))
        .filter(replica_leases::expires_at_ms.gt(now))
        .count()
        .get_result(conn)?)
}

/// Gives up `id`'s lease at once (a replica stopping): nobody waits for it any longer.
pub fn release(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(replica_leases::table.filter(replica_leases::id.eq(id))).execute(conn)?;
    Ok(())
}
