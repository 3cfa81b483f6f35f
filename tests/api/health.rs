use std::time::Duration;

use crate::helpers::{PATIENCE, TestDb, eventually, spawn_app, spawn_app_with};

#[tokio::test]
async fn live_and_ready_answer_200() {
    let app = spawn_app().await;
    let live = app.get_admin("/health/live").await;
    assert_eq!(live.status(), 200);
    let ready = app.get_admin("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let expected = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], expected);
}

#[tokio::test]
async fn health_is_not_on_the_public_listener_except_live() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/health/ready", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .get(format!("{}/metrics", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    for _ in 0..3 {
        assert_eq!(app.get_admin("/health/live").await.status(), 200);
    }
    let _ = app
        .http
        .get(format!("{}/nope", app.public))
        .send()
        .await
        .unwrap();
    let text = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"portcullis_http_requests_total{listener="admin",method="GET",route="/health/live",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("portcullis_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn shutdown_reports_not_ready_then_stops() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |c| {
        // Long enough that the checks below run inside it on a loaded machine.
        c.shutdown_delay = Duration::from_secs(5);
    })
    .await;
    assert_eq!(app.get_admin("/health/ready").await.status(), 200);
    app.shutdown.shutdown();
    let during = eventually("readiness to report the shutdown", async || {
        let r = app.get_admin("/health/ready").await;
        (r.status() == 503).then_some(r)
    })
    .await;
    let body: serde_json::Value = during.json().await.unwrap();
    assert_eq!(body["reason"], "shutting down");
    // Liveness still answers while draining.
    assert_eq!(app.get_admin("/health/live").await.status(), 200);
    let finished = tokio::time::timeout(PATIENCE, app.server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "server stopped cleanly");
    let after = app
        .http
        .get(format!("{}/health/live", app.admin))
        .send()
        .await;
    assert!(after.is_err(), "listener closed after shutdown");
}

#[tokio::test]
async fn ready_is_503_when_migrations_are_pending() {
    let db = std::sync::Arc::new(TestDb::new());
    let app = spawn_app_with(db.clone(), |_| {}).await;
    // Roll the schema back under the running server.
    app.state
        .store
        .run(|conn| {
            portcullis::store::migrate::revert_all(conn)
                .map_err(portcullis::store::StoreError::Unavailable)
        })
        .await
        .unwrap();
    let r = app.get_admin("/health/ready").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["reason"], "migrations are pending");
}
