//! Connections: the backend is chosen loudly by the URL scheme, and a small r2d2 manager
//! opens the concrete backend with its per-connection settings.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

/// One connection type over both backends; queries written against the shared schema
/// run on either.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Where the data lives, parsed from `database.url`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path; `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
    /// A libpq connection URL, kept whole because it may carry a password.
    Postgres(String),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("unsupported database URL scheme; use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedScheme,
    #[error("the sqlite:// URL names no file")]
    EmptySqlitePath,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DatabaseUrlError::EmptySqlitePath);
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err(DatabaseUrlError::UnsupportedScheme)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password replaced, safe for logs and `config check`.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        // set_password only fails for URLs that cannot carry one.
                        let _ignored = url.set_password(Some("REDACTED"));
                    }
                    url.to_string()
                }
                Err(_) => "postgres://<unparsable>".to_owned(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Whether queries run on our own threads (SQLite) rather than in a server process
    /// (Postgres). Only then may a thread waiting on the database poll for its answer
    /// (`http.idle_poll_us`): a Postgres query needs the CPU the poll would hold, and at
    /// c=1 on two cores polling took introspection from 4,200 to 2,900-3,600 req/s.
    pub fn in_process(self) -> bool {
        match self {
            Self::Sqlite => true,
            Self::Postgres => false,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// Opens connections for r2d2.
pub struct ConnectionManager {
    url: DatabaseUrl,
    connect_timeout: Duration,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, connect_timeout: Duration) -> Self {
        Self {
            url,
            connect_timeout,
        }
    }
}

/// Settings every SQLite connection needs: WAL lets readers run beside the writer,
/// foreign keys are off by default in SQLite, and busy_timeout turns lock contention
/// into a short wait instead of an immediate `SQLITE_BUSY`. The page cache is per
/// connection, 2 MiB each by default: with a full pool that was 16 MiB of our resident
/// memory holding what the kernel's file cache holds anyway. 512 KiB keeps every
/// index's upper levels; a miss is a read from the kernel's cache.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512;";

/// diesel prepares each statement once per connection, but Postgres still plans it again
/// on every execution until it trusts a generic plan, and for `= ANY($1)` lists it never
/// does: planning was 90% of the batched introspection query's time (93 us to bind, 10 us
/// to run). Every statement we send is an indexed lookup or a bounded range, which the
/// generic plan serves as well.
const POSTGRES_SETTINGS: &str = "SET plan_cache_mode = force_generic_plan";

pub fn establish(
    url: &DatabaseUrl,
    connect_timeout: Duration,
) -> Result<DbConnection, diesel::ConnectionError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
            conn.batch_execute(SQLITE_PRAGMAS)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Sqlite(conn))
        }
        DatabaseUrl::Postgres(raw) => {
            let with_timeout = add_connect_timeout(raw, connect_timeout);
            let mut conn = PgConnection::establish(&with_timeout)?;
            conn.batch_execute(POSTGRES_SETTINGS)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Postgres(conn))
        }
    }
}

/// libpq waits for a dead server for minutes unless told otherwise; an outage must turn
/// into a fast 503, so a connect timeout is added unless the URL has one.
fn add_connect_timeout(raw: &str, timeout: Duration) -> String {
    if raw.contains("connect_timeout=") {
        return raw.to_owned();
    }
    let sep = if raw.contains('?') { '&' } else { '?' };
    format!("{raw}{sep}connect_timeout={}", timeout.as_secs().max(1))
}

/// A pooled connection and whether a failure showed it dead. diesel cannot tell a closed
/// Postgres connection from a live one without a round trip, so `Store::run` marks it when
/// a statement fails that way, and the pool then drops it instead of handing it out again:
/// after an outage, the pool refills with fresh connections and the server recovers by
/// itself.
pub struct Pooled {
    pub conn: DbConnection,
    pub broken: bool,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        Ok(Pooled {
            conn: establish(&self.url, self.connect_timeout)?,
            broken: false,
        })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/p.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("./data/p.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/p.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/var/lib/p.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("mysql://u@h/db"),
            Err(DatabaseUrlError::UnsupportedScheme)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
    }

    #[test]
    fn redaction_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/auth")
            .unwrap_or_else(|_| unreachable!("valid URL"));
        assert!(!url.redacted().contains("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(url.redacted().contains("REDACTED"));
    }

    #[test]
    fn connect_timeout_is_added_once() {
        let t = Duration::from_secs(3);
        assert_eq!(
            add_connect_timeout("postgres://h/db", t),
            "postgres://h/db?connect_timeout=3"
        );
        assert_eq!(
            add_connect_timeout("postgres://h/db?sslmode=disable", t),
            "postgres://h/db?sslmode=disable&connect_timeout=3"
        );
        assert_eq!(
            add_connect_timeout("postgres://h/db?connect_timeout=9", t),
            "postgres://h/db?connect_timeout=9"
        );
    }
}
