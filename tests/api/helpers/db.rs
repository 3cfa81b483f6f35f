//! A database of each test's own (docs/architecture.md, convention 10): SQLite by default, Postgres when
//! PORTCULLIS_TEST_DATABASE_URL names a server.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use portcullis::config::MasterKeySource;
use portcullis::crypto::key_material::{MasterKey, MasterKeys};

pub fn master_keys(base64: &str) -> MasterKeySource {
    MasterKeySource::Configured(Arc::new(MasterKeys::from(
        MasterKey::from_base64(base64).unwrap(),
    )))
}

/// Env var naming a Postgres server (a maintenance database on it) for the suite.
pub const PG_ENV: &str = "PORTCULLIS_TEST_DATABASE_URL";

/// A database of the test's own, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// The master key (base64) every app on this database uses.
    pub master_key: String,
    pg: Option<(String, String)>,
}

fn new_master_key() -> String {
    MasterKey::generate().unwrap().to_base64().to_string()
}

impl TestDb {
    /// Postgres when PORTCULLIS_TEST_DATABASE_URL is set, else SQLite.
    pub fn new() -> Self {
        Self::postgres().unwrap_or_else(Self::sqlite)
    }

    /// A fresh SQLite file, whatever the environment says.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb {
            url,
            dir,
            master_key: new_master_key(),
            pg: None,
        }
    }

    /// A fresh Postgres database, when PORTCULLIS_TEST_DATABASE_URL names a server.
    pub fn postgres() -> Option<Self> {
        let base = std::env::var(PG_ENV).ok().filter(|b| !b.is_empty())?;
        let base = without_tls(&base);
        let dir = tempfile::tempdir().expect("temp dir");
        let name = format!("portcullis_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&base).expect("connect to test Postgres");
        // The name is generated above, never user input.
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create test database");
        let url = with_database(&base, &name);
        Some(TestDb {
            url,
            dir,
            master_key: new_master_key(),
            pg: Some((base, name)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    pub fn backend(&self) -> Backend {
        if self.is_postgres() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").map(PathBuf::from)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.pg
            && let Ok(mut admin) = PgConnection::establish(base)
        {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// The test server's URL with `sslmode=disable` unless it says otherwise. libpq is the
/// only user of OpenSSL in this process, and OpenSSL 3 frees its per-thread state from an
/// exit handler: with TLS connections on loopback, a test binary that had passed every
/// test was once killed by SIGSEGV at exit, in OpenSSL's `init_thread_deregister`, while
/// the threads of earlier tests' stores were ending. Without TLS, libpq never starts
/// OpenSSL. The tests are about our SQL, not about TLS to a server on the same machine.
fn without_tls(base: &str) -> String {
    let mut url = url::Url::parse(base).expect("PORTCULLIS_TEST_DATABASE_URL is a URL");
    if !url.query_pairs().any(|(k, _)| k == "sslmode") {
        url.query_pairs_mut().append_pair("sslmode", "disable");
    }
    url.to_string()
}

/// Swaps the database name in a postgres URL.
pub fn with_database(base: &str, name: &str) -> String {
    let mut url = url::Url::parse(base).expect("PORTCULLIS_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Whether a test that needs `wanted` can run on `db`. When it cannot, the test says so
/// in the test run's output (`SKIPPED on sqlite: ...`, even without `--nocapture`) and the caller
/// returns: a skipped test must never look like a test that ran and passed unnoticed.
///
/// ```ignore
/// if !skip_unless(&db, Backend::Postgres, "SQLite has no replica lease") { return; }
/// ```
#[must_use]
pub fn skip_unless(db: &TestDb, wanted: Backend, reason: &str) -> bool {
    let here = db.backend();
    if here == wanted {
        return true;
    }
    // Straight to the process's stderr, not `eprintln!`: the test harness captures the
    // macros' output of passing tests, and a skip must show in every run's output.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED on {}: {reason} (runs on {} only)",
        here.name(),
        wanted.name()
    );
    false
}
