//! An online copy of a SQLite database. `VACUUM INTO` reads inside one read transaction,
//! so the copy is a consistent snapshot even while the server writes (WAL lets the writer
//! go on beside it), and it is compacted: no free pages, no WAL to carry along.

use std::path::Path;

use diesel::connection::SimpleConnection;

use super::conn::DbConnection;

/// Why a copy was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "`portcullis backup` copies SQLite databases; for Postgres use pg_dump \
         (pg_dump --format=custom --file=portcullis.dump DATABASE_URL; see docs/backup.md)"
    )]
    Postgres,
    #[error("the copy failed: {0}")]
    Sqlite(#[from] diesel::result::Error),
    #[error("the backup path is not valid UTF-8")]
    Path,
}

/// Writes a consistent copy of the database into `target`, which must not exist or be an
/// empty file (SQLite refuses anything else, so an existing backup is never overwritten).
pub fn vacuum_into(conn: &mut DbConnection, target: &Path) -> Result<(), BackupError> {
    match conn {
        DbConnection::Postgres(_) => Err(BackupError::Postgres),
        DbConnection::Sqlite(c) => {
            let path = target.to_str().ok_or(BackupError::Path)?;
            // A string literal, not a parameter: VACUUM takes no bound values. Quotes are
            // doubled, which is SQL's only escape inside '...'.
            c.batch_execute(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))?;
            Ok(())
        }
    }
}
