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

/// A migration as `migrate status` lists it: the folder name and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationState {
    /// The folder name, `2026-11-28-000001_foundation`.
    pub name: String,
    /// The version diesel records, `20261128000001`.
    pub version: String,
    pub applied: bool,
}

/// Every migration this binary knows, oldest first, and which are applied. A version the
/// database records that this binary does not know (written by a newer binary) is listed
/// too, by version only: a downgrade would run against a schema it was not built for.
pub fn status(conn: &mut DbConnection) -> Result<Vec<MigrationState>, HarnessError> {
    fn list<DB: diesel::backend::Backend>(
        harness: &mut impl MigrationHarness<DB>,
        source: EmbeddedMigrations,
    ) -> Result<Vec<MigrationState>, HarnessError> {
        let applied: Vec<String> = harness
            .applied_migrations()?
            .iter()
            .map(|v| v.to_string())
            .collect();
        let known = diesel::migration::MigrationSource::<DB>::migrations(&source)?;
        let mut states: Vec<MigrationState> = known
            .iter()
            .map(|m| {
                let version = m.name().version().to_string();
                MigrationState {
                    name: m.name().to_string(),
                    applied: applied.contains(&version),
                    version,
                }
            })
            .collect();
        for version in applied {
            if !states.iter().any(|s| s.version == version) {
                states.push(MigrationState {
                    name: format!("{version} (unknown to this binary)"),
                    version,
                    applied: true,
                });
            }
        }
        states.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(states)
    }
    match conn {
        DbConnection::Sqlite(c) => list(c, SQLITE),
        DbConnection::Postgres(c) => list(c, POSTGRES),
    }
}

/// Reverts the newest applied migration with its down.sql; returns its version, `None`
/// when nothing is applied. On Postgres under the migrations' advisory lock, so it never
/// runs beside a replica's start.
pub fn revert_last(conn: &mut DbConnection) -> Result<Option<String>, HarnessError> {
    fn last<DB: diesel::backend::Backend>(
        harness: &mut impl MigrationHarness<DB>,
        source: EmbeddedMigrations,
    ) -> Result<Option<String>, HarnessError> {
        if harness.applied_migrations()?.is_empty() {
            return Ok(None);
        }
        Ok(Some(harness.revert_last_migration(source)?.to_string()))
    }
    match conn {
        DbConnection::Sqlite(c) => last(c, SQLITE),
        DbConnection::Postgres(c) => {
            c.batch_execute(PG_MIGRATION_LOCK)?;
            let result = last(c, POSTGRES);
            c.batch_execute(PG_MIGRATION_UNLOCK)?;
            result
        }
    }
}
