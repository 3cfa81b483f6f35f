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

use portcullis::store::DatabaseUrl;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, TestDb, eventually, post_with_basic, skip_unless, spawn_app_with};

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
    if !skip_unless(&db, Backend::Postgres, "SQLite is a file: it has no outage") {
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
    let rs = app
        .confidential_client("rs")
        .grants(&["client_credentials"])
        .roles(&["introspector"])
        .await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .await;
    let cc = [("grant_type", "client_credentials")];
    let at = app.cc_token(&svc, None).await;
    let r: Value = post_with_basic(&app, "/introspect", &[("token", &at)], rs.basic())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["active"], true);

    proxy.cut();
    // A replica that holds a lease may go on answering from memory until the lease runs
    // out (no revocation can return meanwhile: it waits for this replica or its lease);
    // those answers are the truth, and after the lease every answer is 503.
    // No renewal can succeed after the cut, so the lease ends at most LEASE after it. A
    // request sent at `sent` is answered later than that, so an answer from memory to a
    // request sent after cut + LEASE is a lease outlived; load cannot cause it.
    let cut_at = std::time::Instant::now();
    eventually("introspection to answer 503 after the lease", async || {
        let sent = std::time::Instant::now();
        let r = post_with_basic(&app, "/introspect", &[("token", &at)], rs.basic()).await;
        if r.status() == 503 {
            return Some(());
        }
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
        assert!(
            sent < cut_at + LEASE,
            "answered from memory to a request sent {:?} after the cut",
            sent - cut_at
        );
        None
    })
    .await;
    for _ in 0..2 {
        let r = post_with_basic(&app, "/introspect", &[("token", &at)], rs.basic()).await;
        assert_unavailable(&r, "introspect");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "temporarily_unavailable"
        );
        let r = post_with_basic(&app, "/revoke", &[("token", &at)], svc.basic()).await;
        assert_unavailable(&r, "revoke");
        let r = post_with_basic(&app, "/token", &cc, svc.basic()).await;
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
    eventually("introspection to recover without a restart", async || {
        let r = post_with_basic(&app, "/introspect", &[("token", &at)], rs.basic()).await;
        if r.status() == 200 {
            assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
            return Some(());
        }
        assert_eq!(r.status(), 503);
        None
    })
    .await;
    assert_eq!(app.get_admin("/health/ready").await.status(), 200);
    let r = post_with_basic(&app, "/revoke", &[("token", &at)], svc.basic()).await;
    assert_eq!(r.status(), 200);
    let r: Value = post_with_basic(&app, "/introspect", &[("token", &at)], rs.basic())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r, serde_json::json!({ "active": false }));
    assert_eq!(
        post_with_basic(&app, "/token", &cc, svc.basic())
            .await
            .status(),
        200
    );
}
