//! A running server per test: public and admin listeners on port 0, a fixed clock, and a
//! reqwest client that does not follow redirects.

use std::net::TcpListener;
use std::sync::Arc;

use portcullis::app::{AppState, Application, ShutdownHandle};
use portcullis::clock::FixedClock;
use portcullis::config::{Config, Issuer, Overrides};

use super::db::{TestDb, master_keys};

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
    /// The public listener's origin, `http://127.0.0.1:PORT`.
    pub public: String,
    /// Where the issuer lives on the public listener: `public` plus the issuer's path.
    /// Every endpoint and page is under it; `app.url("/token")` names one.
    pub base: String,
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

/// No role requires a second factor (`mfa.required_roles = []`): for tests about something
/// else that sign an admin in with the password grant, which a second factor forbids
/// (issue 20; the policy itself is tested in `second_factor.rs`).
pub fn no_mfa_roles(config: &mut portcullis::config::Config) {
    config.mfa.required_roles = Vec::new();
}

/// `spawn_app` with `no_mfa_roles`.
pub async fn spawn_app_without_mfa_roles() -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), no_mfa_roles).await
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
    let issuer_path = state.config.issuer.path().to_owned();
    let shutdown = app.shutdown_handle();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        public: format!("http://127.0.0.1:{public_port}"),
        base: format!("http://127.0.0.1:{public_port}{issuer_path}"),
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

/// A server whose issuer is `http://127.0.0.1:PORT{path}` (`path` like `"/auth"`).
pub async fn spawn_app_under(path: &str) -> TestApp {
    let path = path.to_owned();
    spawn_app_with(Arc::new(TestDb::new()), move |c| {
        c.issuer = Issuer::parse(&format!("{}{path}", c.issuer)).expect("issuer with a path");
    })
    .await
}

/// A server whose issuer is exactly `issuer` (`https://id.example.com/auth`), still
/// reached over plain http on loopback: what a TLS-terminating proxy in front sees.
pub async fn spawn_app_as(issuer: &str) -> TestApp {
    let issuer = Issuer::parse(issuer).expect("issuer");
    spawn_app_with(Arc::new(TestDb::new()), move |c| c.issuer = issuer).await
}

/// A server whose issuer is `http://localhost:PORT`, and which the test reaches under that
/// name too (`public` and `base` say `localhost`; the listener is still 127.0.0.1, which
/// `localhost` resolves to). Browsers refuse an IP address as a WebAuthn relying-party id,
/// and so do webauthn-rs and the soft authenticator: passkey tests need a name, and the
/// origin the authenticator signs must be the issuer's.
pub async fn spawn_app_on_localhost(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut app = spawn_app_with(Arc::new(TestDb::new()), move |c| {
        let named = c.issuer.as_str().replacen("127.0.0.1", "localhost", 1);
        c.issuer = Issuer::parse(&named).expect("issuer on localhost");
        tweak(c);
    })
    .await;
    app.public = app.public.replacen("127.0.0.1", "localhost", 1);
    app.base = app.base.replacen("127.0.0.1", "localhost", 1);
    app
}

impl TestApp {
    /// The URL of `route` (`"/token"`) on this server, under the issuer's path.
    pub fn url(&self, route: &str) -> String {
        format!("{}{route}", self.base)
    }

    pub async fn get_admin(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .expect("request")
    }
}

/// A form POST to `route` under the issuer with HTTP Basic client authentication.
pub async fn post_with_basic(
    app: &TestApp,
    route: &str,
    form: &[(&str, &str)],
    auth: (&str, &str),
) -> reqwest::Response {
    app.http
        .post(app.url(route))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap()
}
