//! The SSRF guard (`portcullis::outbound`) against a real local server: what it refuses
//! before connecting, that it connects only to the address it checked, and its limits on
//! redirects, size, time and concurrency. The table of hostile URLs and addresses with a
//! stub resolver is the unit test `outbound::tests::hostile_urls_and_addresses_are_refused`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::outbound::{
    FetchError, Fetcher, Policy, SpecialUse, StaticResolver, SystemResolver, TargetError,
};
use serde_json::json;

use crate::helpers::document_server::{Answer, DocumentServer};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn fetcher(policy: Policy) -> Fetcher {
    Fetcher::new(policy, Arc::new(SystemResolver)).unwrap()
}

/// The development setting's guard, with a short time limit for the slow tests.
fn development() -> Policy {
    Policy {
        timeout: Duration::from_millis(500),
        ..Policy::new(true)
    }
}

#[tokio::test]
async fn guard_refuses_loopback_unless_the_development_setting_allows_it() {
    let server = DocumentServer::start().await;
    server.answer("/c.json", Answer::json(&json!({ "ok": true })));
    let production = fetcher(Policy::new(false));
    // Plain http is refused before anything else; so is https to a loopback host, by
    // literal or by a name the system resolves to one.
    assert_eq!(
        production.fetch(&server.url("/c.json")).await,
        Err(FetchError::Target(TargetError::Scheme))
    );
    for url in [
        format!("https://127.0.0.1:{}/c.json", server.port),
        format!("https://127.1:{}/c.json", server.port),
        format!("https://localhost:{}/c.json", server.port),
        format!("https://[::ffff:127.0.0.1]:{}/c.json", server.port),
    ] {
        match production.fetch(&url).await {
            Err(FetchError::Refused { why, .. }) => assert_eq!(why, SpecialUse::Loopback, "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert_eq!(server.hits("/c.json"), 0, "nothing reached the server");

    let fetched = fetcher(development())
        .fetch(&server.url("/c.json"))
        .await
        .unwrap();
    assert_eq!(fetched.body, br#"{"ok":true}"#);
    assert_eq!(fetched.peer, Some(SocketAddr::new(LOOPBACK, server.port)));
    assert_eq!(server.hits("/c.json"), 1);
}

/// The name is resolved once, by the guard's resolver, and the connection goes to the
/// address that resolver gave: a name the system cannot resolve reaches the server, and a
/// name the stub does not know is not looked up anywhere else.
#[tokio::test]
async fn guard_connects_to_the_checked_address_only() {
    let server = DocumentServer::start().await;
    server.answer("/c.json", Answer::json(&json!({ "ok": true })));
    let stub = StaticResolver::new(&[("docs.portcullis.test", &[LOOPBACK])]);
    let guard = Fetcher::new(development(), Arc::new(stub.clone())).unwrap();
    let fetched = guard
        .fetch(&format!(
            "http://docs.portcullis.test:{}/c.json",
            server.port
        ))
        .await
        .unwrap();
    assert_eq!(fetched.peer, Some(SocketAddr::new(LOOPBACK, server.port)));
    assert_eq!(
        guard
            .fetch(&format!("http://localhost:{}/c.json", server.port))
            .await,
        Err(FetchError::Resolve)
    );
    assert_eq!(server.hits("/c.json"), 1);

    // The same stub without the development setting: the checked address is refused and
    // nothing connects.
    let production = Fetcher::new(Policy::new(false), Arc::new(stub)).unwrap();
    assert_eq!(
        production
            .fetch(&format!(
                "https://docs.portcullis.test:{}/c.json",
                server.port
            ))
            .await,
        Err(FetchError::Refused {
            address: LOOPBACK,
            why: SpecialUse::Loopback
        })
    );
    assert_eq!(server.hits("/c.json"), 1);
}

#[tokio::test]
async fn guard_follows_no_redirect() {
    let server = DocumentServer::start().await;
    server.answer("/c.json", Answer::json(&json!({ "ok": true })));
    for status in [301, 302, 303, 307, 308] {
        let mut answer = Answer::redirect(&server.url("/c.json"));
        answer.status = status;
        server.answer("/moved", answer);
        assert_eq!(
            fetcher(development()).fetch(&server.url("/moved")).await,
            Err(FetchError::Redirect(status))
        );
    }
    assert_eq!(server.hits("/c.json"), 0);
    server.answer("/gone", Answer::status(404));
    assert_eq!(
        fetcher(development()).fetch(&server.url("/gone")).await,
        Err(FetchError::Status(404))
    );
    server.answer("/empty", Answer::status(204));
    assert_eq!(
        fetcher(development()).fetch(&server.url("/empty")).await,
        Err(FetchError::Status(204))
    );
}

#[tokio::test]
async fn guard_bounds_the_size() {
    let server = DocumentServer::start().await;
    let limit = portcullis::outbound::MAX_BYTES;
    let body = |len: usize| {
        let mut answer = Answer::status(200);
        answer.body = vec![b' '; len];
        answer
    };
    server.answer("/fits", body(limit));
    server.answer("/declared", body(limit + 1));
    // No Content-Length: the limit holds while the body streams.
    server.answer("/streamed", body(10 * limit).without_length());
    let guard = fetcher(development());
    assert_eq!(
        guard.fetch(&server.url("/fits")).await.unwrap().body.len(),
        limit
    );
    assert_eq!(
        guard.fetch(&server.url("/declared")).await,
        Err(FetchError::TooLarge(limit))
    );
    assert_eq!(
        guard.fetch(&server.url("/streamed")).await,
        Err(FetchError::TooLarge(limit))
    );
}

#[tokio::test]
async fn guard_bounds_the_time_and_the_fetches_in_flight() {
    let server = DocumentServer::start().await;
    server.answer(
        "/slow",
        Answer::json(&json!({})).delayed(Duration::from_secs(3)),
    );
    let guard = Arc::new(fetcher(Policy {
        max_concurrent: 1,
        ..development()
    }));
    let started = Instant::now();
    let slow = tokio::spawn({
        let guard = guard.clone();
        let url = server.url("/slow");
        async move { guard.fetch(&url).await }
    });
    // While one fetch is in flight, another is refused at once rather than queued.
    crate::helpers::eventually("the slow fetch to arrive", async || {
        (server.hits("/slow") == 1).then_some(())
    })
    .await;
    assert_eq!(
        guard.fetch(&server.url("/slow")).await,
        Err(FetchError::Busy)
    );
    assert_eq!(
        slow.await.unwrap(),
        Err(FetchError::Timeout(Duration::from_millis(500)))
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn guard_reports_how_long_a_response_may_be_reused() {
    let server = DocumentServer::start().await;
    server.answer(
        "/cached",
        Answer::json(&json!({}))
            .header("Cache-Control", "public, max-age=600")
            .header("Age", "100"),
    );
    server.answer(
        "/uncached",
        Answer::json(&json!({})).header("Cache-Control", "no-store"),
    );
    server.answer("/silent", Answer::json(&json!({})));
    let guard = fetcher(development());
    let fresh = |path: &'static str| {
        let guard = &guard;
        let url = server.url(path);
        async move { guard.fetch(&url).await.unwrap().fresh_for }
    };
    assert_eq!(fresh("/cached").await, Some(500));
    assert_eq!(fresh("/uncached").await, Some(0));
    assert_eq!(fresh("/silent").await, None);
}
