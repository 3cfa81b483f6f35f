use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use portcullis::app::{AppState, Application, ShutdownHandle};
use portcullis::clock::FixedClock;
use portcullis::config::{Config, MasterKeySource, Overrides};
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

/// Cheap argon2 for tests that hash many passwords; still argon2id.
pub fn test_config(db: &TestDb, public_port: u16) -> Config {
    let mut config = Config::for_overrides(Overrides {
        issuer: Some(format!("http://127.0.0.1:{public_port}")),
        database_url: Some(db.url.clone()),
        data_dir: Some(db.dir.path().join("data")),
        ..Overrides::default()
    })
    .expect("test config");
    config.password.memory_kib = 8 * 1024;
    config.password.iterations = 1;
    config.password.workers = 2;
    config.database.pool_size = 4;
    config.keys.master_keys = master_keys(&db.master_key);
    config
}

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub state: AppState,
    pub clock: FixedClock,
    pub shutdown: ShutdownHandle,
    pub http: reqwest::Client,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub db: Arc<TestDb>,
}

pub const T0: i64 = 1_800_000_000;

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |_| {}).await
}

/// Spawns a server on `db` (shared by several apps when the test wants replicas).
pub async fn spawn_app_with(db: Arc<TestDb>, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let public = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let public_port = public.local_addr().unwrap().port();
    let admin_port = admin.local_addr().unwrap().port();
    let mut config = test_config(&db, public_port);
    tweak(&mut config);
    let clock = FixedClock::new(T0);
    let app = Application::build_with_listeners(config, Arc::new(clock.clone()), public, admin)
        .await
        .expect("application starts");
    let state = app.state().clone();
    let shutdown = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        public: format!("http://127.0.0.1:{public_port}"),
        admin: format!("http://127.0.0.1:{admin_port}"),
        state,
        clock,
        shutdown,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        server,
        db,
    }
}

impl TestApp {
    pub async fn get_admin(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .expect("request")
    }
}

/// A form POST to the public listener with HTTP Basic client authentication.
pub async fn post_with_basic(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    auth: (&str, &str),
) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.public))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap()
}
