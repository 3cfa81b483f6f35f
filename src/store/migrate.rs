//! Embedded migrations, one folder per backend with the same folder names
//! (a test in tests/api/migrations.rs keeps them in step).

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationVersion;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::conn::DbConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The version of `2026-12-05-000012_audit_key`, which keys the audit chain: the run that
/// applies it seals the rows before it (`Store::migrate`).
pub const AUDIT_KEY_VERSION: &str = "20261205000012";

type HarnessError = Box<dyn std::error::Error + Send + Sync>;

/// Any constant shared by every replica; names the advisory lock that serialises
/// migrations when several replicas start against one Postgres at once.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7207301)";
const PG_MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7207301)";

/// Applies every pending migration; returns the versions applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, HarnessError> {
    let names =
        |applied: Vec<MigrationVersion<'_>>| applied.iter().map(|v| v.to_string()).collect();
    match conn {
        DbConnection::Sqlite(c) => Ok(names(c.run_pending_migrations(SQLITE)?)),
        DbConnection::Postgres(c) => {
            c.batch_execute(PG_MIGRATION_LOCK)?;
            let result = c.run_pending_migrations(POSTGRES).map(names);
            c.batch_execute(PG_MIGRATION_UNLOCK)?;
            result
        }
    }
}

/// Applies the pending migrations older than `version` and no others: the database as a
/// binary from before `version` would have left it (the upgrade tests start from there).
pub fn run_pending_before(
    conn: &mut DbConnection,
    version: &str,
) -> Result<Vec<String>, HarnessError> {
    fn older<DB: diesel::backend::Backend>(
        harness: &mut impl MigrationHarness<DB>,
        source: EmbeddedMigrations,
        version: &str,
    ) -> Result<Vec<String>, HarnessError> {
        let mut applied = Vec::new();
        for migration in harness.pending_migrations(source)? {
            let this = migration.name().version().to_string();
            if this.as_str() >= version {
                break;
            }
            harness.run_migration(&*migration)?;
            applied.push(this);
        }
        Ok(applied)
    }
    match conn {
        DbConnection::Sqlite(c) => older(c, SQLITE, version),
        DbConnection::Postgres(c) => older(c, POSTGRES, version),
    }
}

/// Reverts every applied migration, newest first (used by the up/down/up test and by
/// operators who need to roll back before a downgrade).
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, HarnessError> {
    let reverted = match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE)?,
        DbConnection::Postgres(c) => c.revert_all_migrations(POSTGRES)?,
    };
    Ok(reverted.iter().map(|v| v.to_string()).collect())
}

/// True when the schema is behind this binary; readiness fails then.
pub fn has_pending(conn: &mut DbConnection) -> Result<bool, HarnessError> {
    match conn {
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE),
        DbConnection::Postgres(c) => c.has_pending_migration(POSTGRES),
    }
}
