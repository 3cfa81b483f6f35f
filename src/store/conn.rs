//! Connections: the backend is chosen loudly by the URL scheme, and a small r2d2 manager
//! opens the concrete backend with its per-connection settings.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use crate::private_files;

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
    #[error(
        "sslmode={0} connects in plain text, without a word, when TLS fails; use \
         require, verify-ca or verify-full (or disable, to choose plain text openly)"
    )]
    SslModeFallsBack(String),
    #[error("sslmode={0} is not a libpq sslmode (disable, require, verify-ca, verify-full)")]
    UnknownSslMode(String),
}

/// How a Postgres connection uses TLS: libpq's `sslmode`, less the two modes (`allow`,
/// `prefer`) that quietly go on in plain text when TLS cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    /// TLS or no connection; the server's certificate is not checked.
    Require,
    /// TLS with a certificate signed by `sslrootcert`.
    VerifyCa,
    /// `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> Result<Self, DatabaseUrlError> {
        match value {
            "disable" => Ok(Self::Disable),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            "allow" | "prefer" => Err(DatabaseUrlError::SslModeFallsBack(value.to_owned())),
            other => Err(DatabaseUrlError::UnknownSslMode(other.to_owned())),
        }
    }

    fn as_libpq(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// The query parameters of a libpq URL, decoded.
fn query_params(raw: &str) -> Vec<(String, String)> {
    raw.split_once('?')
        .map(|(_, query)| {
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The hosts a libpq URL connects to: `hostaddr` or `host` parameters when given (they
/// win over the authority), else the authority's comma-separated hosts. An empty list
/// means libpq's default, the local Unix socket.
fn postgres_hosts(raw: &str) -> Vec<String> {
    let params = query_params(raw);
    for name in ["hostaddr", "host"] {
        if let Some((_, value)) = params.iter().rev().find(|(k, _)| k == name) {
            return value.split(',').map(str::to_owned).collect();
        }
    }
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| {
            if let Some(v6) = h.strip_prefix('[') {
                v6.split(']').next().unwrap_or_default().to_owned()
            } else {
                h.split(':').next().unwrap_or_default().to_owned()
            }
        })
        .collect()
}

/// Whether traffic to `host` stays on this machine: a Unix socket path, `localhost`, or
/// a loopback address.
fn is_local_host(host: &str) -> bool {
    let decoded = url::form_urlencoded::parse(format!("h={host}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    decoded.is_empty()
        || decoded.starts_with('/')
        || decoded.starts_with('@')
        || decoded.eq_ignore_ascii_case("localhost")
        || decoded
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
            // Checked now, so a mode that could fall back is a start-up error, not a
            // plain-text connection later.
            if let Some((_, mode)) = query_params(raw).iter().rev().find(|(k, _)| k == "sslmode") {
                TlsMode::parse(mode)?;
            }
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

    /// How a Postgres connection uses TLS: `sslmode` as written, or when the URL has none,
    /// `require` for a database on another machine and `disable` for one on this machine
    /// (libpq's own default, `prefer`, would fall back to plain text without a word).
    /// `None` for SQLite.
    pub fn tls_mode(&self) -> Option<TlsMode> {
        let Self::Postgres(raw) = self else {
            return None;
        };
        let written = query_params(raw)
            .into_iter()
            .rev()
            .find(|(k, _)| k == "sslmode")
            // `parse` refused every other value.
            .and_then(|(_, mode)| TlsMode::parse(&mode).ok());
        Some(written.unwrap_or_else(|| {
            if postgres_hosts(raw).iter().all(|h| is_local_host(h)) {
                TlsMode::Disable
            } else {
                TlsMode::Require
            }
        }))
    }

    /// When a Postgres database on another machine is reached without TLS (it was asked
    /// for with `sslmode=disable`), the hosts concerned, for `serve`'s warning.
    pub fn plain_text_risk(&self) -> Option<String> {
        let Self::Postgres(raw) = self else {
            return None;
        };
        if self.tls_mode() != Some(TlsMode::Disable) {
            return None;
        }
        let remote: Vec<String> = postgres_hosts(raw)
            .into_iter()
            .filter(|h| !is_local_host(h))
            .collect();
        (!remote.is_empty()).then(|| remote.join(","))
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

/// Makes a SQLite database's directory and empty file before SQLite opens it, both
/// closed to everyone but the service's user (0700 and 0600): the file holds password
/// hashes, sealed signing keys and token digests, and SQLite would otherwise create it
/// with the process umask (0644 by default). SQLite gives its `-wal` and `-shm` files
/// the database file's mode. What exists already keeps the mode its operator gave it.
pub fn create_private_sqlite(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str() == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_files::create_dir(dir)?;
    }
    match private_files::create_new(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

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
            let with_tls = match url.tls_mode() {
                Some(mode) => add_sslmode(raw, mode),
                None => raw.clone(),
            };
            let with_timeout = add_connect_timeout(&with_tls, connect_timeout);
            let mut conn = PgConnection::establish(&with_timeout)?;
            conn.batch_execute(POSTGRES_SETTINGS)
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(DbConnection::Postgres(conn))
        }
    }
}

/// Writes the effective `sslmode` into the URL when it has none, so libpq never applies
/// its own default (`prefer`).
fn add_sslmode(raw: &str, mode: TlsMode) -> String {
    if query_params(raw).iter().any(|(k, _)| k == "sslmode") {
        return raw.to_owned();
    }
    let sep = if raw.contains('?') { '&' } else { '?' };
    format!("{raw}{sep}sslmode={}", mode.as_libpq())
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

    #[cfg(unix)]
    #[test]
    fn a_new_sqlite_database_is_the_service_users_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/nested/portcullis.db");
        create_private_sqlite(&path).unwrap();
        let url = DatabaseUrl::Sqlite(path.clone());
        let DbConnection::Sqlite(mut conn) = establish(&url, Duration::from_secs(5)).unwrap()
        else {
            panic!("a SQLite URL opens a SQLite connection")
        };
        conn.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&dir.path().join("data/nested")), 0o700);
        assert_eq!(mode(&path), 0o600);
        // Written while the connection is open: SQLite made it with the database's mode.
        assert_eq!(mode(&path.with_extension("db-wal")), 0o600);

        // An operator's own mode on an existing database is kept.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        create_private_sqlite(&path).unwrap();
        assert_eq!(mode(&path), 0o640);
    }

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

    fn pg(raw: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        DatabaseUrl::parse(raw)
    }

    #[test]
    fn sslmode_is_honoured_and_never_one_that_falls_back() {
        let mode = |raw: &str| pg(raw).map(|u| u.tls_mode());
        // Written modes are kept as written, on any host.
        for (raw, want) in [
            (
                "postgres://u@db.internal/a?sslmode=disable",
                TlsMode::Disable,
            ),
            (
                "postgres://u@db.internal/a?sslmode=require",
                TlsMode::Require,
            ),
            (
                "postgres://u@127.0.0.1/a?sslmode=verify-ca&sslrootcert=/ca.pem",
                TlsMode::VerifyCa,
            ),
            (
                "postgresql://u@db/a?sslrootcert=%2Fca.pem&sslmode=verify-full",
                TlsMode::VerifyFull,
            ),
        ] {
            assert_eq!(mode(raw), Ok(Some(want)), "{raw}");
        }
        // The two modes that go on in plain text when TLS fails are refused outright.
        for raw in [
            "postgres://u@db/a?sslmode=prefer",
            "postgres://u@localhost/a?sslmode=allow",
        ] {
            assert!(
                matches!(pg(raw), Err(DatabaseUrlError::SslModeFallsBack(_))),
                "{raw}"
            );
        }
        assert_eq!(
            pg("postgres://u@db/a?sslmode=on"),
            Err(DatabaseUrlError::UnknownSslMode("on".into()))
        );
        // No sslmode: TLS required off this machine, plain text on it.
        for (raw, want) in [
            ("postgres://u:p@db.example.com:5432/a", TlsMode::Require),
            ("postgres://u@10.0.0.5/a", TlsMode::Require),
            ("postgres://u@127.0.0.1:5432,db2:5432/a", TlsMode::Require),
            (
                "postgres://u@localhost/a?hostaddr=10.1.2.3",
                TlsMode::Require,
            ),
            ("postgres://u@127.0.0.1:5432/a", TlsMode::Disable),
            ("postgres://u@[::1]:5432/a", TlsMode::Disable),
            ("postgres://u@localhost/a", TlsMode::Disable),
            ("postgres:///a", TlsMode::Disable),
            ("postgres://%2Fvar%2Frun%2Fpostgresql/a", TlsMode::Disable),
            (
                "postgres://u@db/a?host=/var/run/postgresql",
                TlsMode::Disable,
            ),
        ] {
            assert_eq!(mode(raw), Ok(Some(want)), "{raw}");
        }
        // SQLite has no TLS to speak of.
        assert_eq!(mode("sqlite://./p.db"), Ok(None));
    }

    #[test]
    fn plain_text_to_another_machine_is_named_for_the_warning() {
        let risk = |raw: &str| pg(raw).map(|u| u.plain_text_risk());
        assert_eq!(
            risk("postgres://u:secret@db.internal:5432/a?sslmode=disable"),
            Ok(Some("db.internal".into()))
        );
        assert_eq!(
            risk("postgres://u@127.0.0.1,10.0.0.9/a?sslmode=disable"),
            Ok(Some("10.0.0.9".into()))
        );
        for raw in [
            "postgres://u@127.0.0.1/a?sslmode=disable",
            "postgres://u@localhost/a",
            "postgres://u@db.internal/a",
            "postgres://u@db.internal/a?sslmode=require",
            "sqlite://./p.db",
        ] {
            assert_eq!(risk(raw), Ok(None), "{raw}");
        }
    }

    #[test]
    fn the_effective_sslmode_is_written_for_libpq() {
        assert_eq!(
            add_sslmode("postgres://db/a", TlsMode::Require),
            "postgres://db/a?sslmode=require"
        );
        assert_eq!(
            add_sslmode("postgres://db/a?x=1", TlsMode::Disable),
            "postgres://db/a?x=1&sslmode=disable"
        );
        assert_eq!(
            add_sslmode("postgres://db/a?sslmode=verify-full", TlsMode::Require),
            "postgres://db/a?sslmode=verify-full"
        );
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
