//! A database outage while the server runs (Postgres only: SQLite is a file, it has no
//! outage). The app reaches Postgres through a TCP proxy the test can cut, which looks to
//! the server like a database that died: open connections break, new ones fail.
//! While it is cut, `/introspect`, `/revoke`, `/token` and `/health/ready` answer 503,
//! never a false `active: true` or a 200 for an unsaved revocation; when it is back,
//! everything recovers without a restart. A replica holding a lease may answer
//! introspection from memory until the lease runs out, and only truthfully.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis::manage::Actor;
use portcullis::manage::clients::NewClient;
use portcullis::store::DatabaseUrl;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{TestApp, TestDb, post_with_basic, spawn_app_with};

/// Forwards connections to `target` until cut; while cut, accepts and drops at once.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c, p) = (Arc::clone(&cut), Arc::clone(&pipes));
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                p.lock().unwrap().push(pipe);
            }
        });
        Proxy {
            port,
            cut,
            pipes,
            accept,
        }
    }

    /// Breaks every open connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn secret(app: &TestApp, id: &str, roles: &[&str]) -> String {
    app.state
        .service
        .create_client(
            &Actor::cli(),
            NewClient {
                name: id.into(),
                client_id: Some(id.into()),
                grant_types: vec!["client_credentials".into()],
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .client_secret
        .unwrap()
        .expose()
        .to_owned()
}

const LEASE: Duration = Duration::from_millis(300);

fn assert_unavailable(r: &reqwest::Response, what: &str) {
    assert_eq!(r.status(), 503, "{what}");
    assert!(
        r.headers().contains_key("retry-after"),
        "{what}: Retry-After"
    );
}

#[tokio::test]
async fn a_database_outage_is_503_and_the_server_recovers_by_itself() {
    let db = Arc::new(TestDb::new());
    if !db.is_postgres() {
        eprintln!("outage test: runs against Postgres only (PORTCULLIS_TEST_DATABASE_URL)");
        return;
    }
    let mut url = url::Url::parse(&db.url).unwrap();
    let target: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
        .parse()
        .unwrap();
    let proxy = Proxy::start(target).await;
    url.set_port(Some(proxy.port)).unwrap();
    let proxied = url.to_string();
    let app = spawn_app_with(Arc::clone(&db), move |c| {
        c.database.url = DatabaseUrl::parse(&proxied).unwrap();
        c.database.connect_timeout = Duration::from_secs(1);
        // No client cache: every request needs the database, as after the cache expires.
        c.tokens.client_cache = Duration::ZERO;
        c.tokens.replica_lease = LEASE;
    })
    .await;
    let rs = secret(&app, "rs", &["introspector"]).await;
    let svc = secret(&app, "svc", &[]).await;
    let cc = [("grant_type", "client_credentials")];
    let issued: Value = post_with_basic(&app, "/token", &cc, ("svc", &svc))
        .await
        .json()
        .await
        .unwrap();
    let at = issued["access_token"].as_str().unwrap().to_owned();
    let r: Value = post_with_basic(&app, "/introspect", &[("token", &at)], ("rs", &rs))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["active"], true);

    proxy.cut();
    // A replica that holds a lease may go on answering from memory until the lease runs
    // out (no revocation can return meanwhile: it waits for this replica or its lease);
    // those answers are the truth, and after the lease every answer is 503.
    let cut_at = std::time::Instant::now();
    loop {
        let r = post_with_basic(&app, "/introspect", &[("token", &at)], ("rs", &rs)).await;
        if r.status() == 503 {
            break;
        }
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
        assert!(
            cut_at.elapsed() < LEASE + Duration::from_millis(500),
            "answered from memory {:?} after the cut",
            cut_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..2 {
        let r = post_with_basic(&app, "/introspect", &[("token", &at)], ("rs", &rs)).await;
        assert_unavailable(&r, "introspect");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "temporarily_unavailable"
        );
        let r = post_with_basic(&app, "/revoke", &[("token", &at)], ("svc", &svc)).await;
        assert_unavailable(&r, "revoke");
        let r = post_with_basic(&app, "/token", &cc, ("svc", &svc)).await;
        assert_unavailable(&r, "token");
        let ready = app.get_admin("/health/ready").await;
        assert_eq!(ready.status(), 503, "ready");
        // The pages too: a 503 page, not an error about the request.
        let page = app
            .http
            .get(format!(
                "{}/authorize?response_type=code&client_id=svc&redirect_uri=https%3A%2F%2Fa.example%2Fcb",
                app.public
            ))
            .send()
            .await
            .unwrap();
        assert_unavailable(&page, "authorize page");
    }

    proxy.restore();
    let mut recovered = false;
    for _ in 0..100 {
        let r = post_with_basic(&app, "/introspect", &[("token", &at)], ("rs", &rs)).await;
        if r.status() == 200 {
            assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
            recovered = true;
            break;
        }
        assert_eq!(r.status(), 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "introspection recovers without a restart");
    assert_eq!(app.get_admin("/health/ready").await.status(), 200);
    let r = post_with_basic(&app, "/revoke", &[("token", &at)], ("svc", &svc)).await;
    assert_eq!(r.status(), 200);
    let r: Value = post_with_basic(&app, "/introspect", &[("token", &at)], ("rs", &rs))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r, serde_json::json!({ "active": false }));
    assert_eq!(
        post_with_basic(&app, "/token", &cc, ("svc", &svc))
            .await
            .status(),
        200
    );
}
