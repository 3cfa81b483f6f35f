//! The janitor keeps tables bounded: expired rows go, live rows stay, each run deletes at
//! most `batch_size * max_batches` rows per table, replicas take turns by lease, and
//! its work shows in the metrics.

use std::sync::Arc;

use portcullis::janitor;
use portcullis::store::models::authorization::{
    self as rows, AuthorizationCodeRow, AuthorizationRequestRow, SessionRow,
};

use crate::helpers::{
    T0, TestApp, TestDb, access_token, eventually, post_with_basic, spawn_app_with,
};

const TABLES: [&str; 7] = [
    "authorization_requests",
    "authorization_codes",
    "sessions",
    "refresh_tokens",
    "grants",
    "revoked_tokens",
    "login_failures",
];

async fn start(batch: u32, batches: u32) -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.janitor.batch_size = batch;
        c.janitor.max_batches = batches;
    })
    .await
}

/// Ten rows in every table the janitor bounds, made the way the server makes them where
/// that is cheap (tokens, revocations, failed logins) and inserted directly otherwise.
async fn fill(app: &TestApp) {
    let web = app
        .confidential_client("web")
        .grants(&["password", "refresh_token"])
        .scope("offline_access")
        .await;
    let alice = app.user("alice").await;
    let user_id = alice.id.clone();
    for i in 0..10 {
        let t = app
            .password_tokens(&web, &alice, Some("offline_access"))
            .await;
        let at = access_token(&t);
        let r = post_with_basic(app, "/revoke", &[("token", &at)], web.basic()).await;
        assert_eq!(r.status(), 200);
        // Failed logins of ten different usernames.
        let nobody = format!("nobody{i}");
        let (status, _) = app
            .token_request(
                &web,
                &[
                    ("grant_type", "password"),
                    ("username", &nobody),
                    ("password", "wrong"),
                ],
            )
            .await;
        assert_eq!(status, 400);
    }
    let user_id = Arc::new(user_id);
    app.state
        .store
        .run(move |conn| {
            for i in 0..10u8 {
                rows::insert_request(
                    conn,
                    &AuthorizationRequestRow {
                        id: format!("req{i}"),
                        client_id: "web".into(),
                        redirect_uri: "https://app.example.com/cb".into(),
                        redirect_uri_given: true,
                        scope: "openid".into(),
                        state: None,
                        nonce: None,
                        code_challenge: None,
                        prompt: None,
                        max_age: None,
                        login_hint: None,
                        csrf_digest: vec![i; 32],
                        user_id: None,
                        session_id: None,
                        created_at: T0,
                        expires_at: T0 + 600,
                        resources: "[]".into(),
                        id_token_hint_subject: None,
                        login_session_id: None,
                        client_key: None,
                        acr_values: None,
                        ui_locales: None,
                    },
                )?;
                rows::insert_session(
                    conn,
                    &SessionRow {
                        id_digest: vec![i; 32],
                        sid: format!("sid{i}"),
                        user_id: user_id.to_string(),
                        auth_time: T0,
                        amr: "[\"pwd\"]".into(),
                        created_at: T0,
                        last_seen_at: T0,
                        idle_expires_at: T0 + 3600,
                        absolute_expires_at: T0 + 86_400,
                        user_agent: None,
                        ip: None,
                    },
                )?;
                rows::insert_code(
                    conn,
                    &AuthorizationCodeRow {
                        digest: vec![i; 32],
                        client_id: "web".into(),
                        user_id: user_id.to_string(),
                        redirect_uri: "https://app.example.com/cb".into(),
                        redirect_uri_given: true,
                        scope: "openid".into(),
                        nonce: None,
                        code_challenge: None,
                        auth_time: T0,
                        sid: None,
                        amr: "[\"pwd\"]".into(),
                        created_at: T0,
                        expires_at: T0 + 60,
                        consumed_at: None,
                        grant_id: None,
                        resources: "[]".into(),
                        acr: None,
                    },
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn rows_of(report: &janitor::Report, table: &str) -> i64 {
    report
        .rows
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, n)| *n)
        .unwrap()
}

#[tokio::test]
async fn expired_rows_go_in_bounded_batches_and_live_rows_stay() {
    let app = start(3, 2).await;
    fill(&app).await;
    let (store, config) = (&app.state.store, &app.state.config);

    // Nothing has expired yet: nothing is deleted.
    let report = janitor::purge(store, config, T0 + 1).await.unwrap();
    for table in TABLES {
        assert_eq!(report.purged(table), 0, "{table}");
        assert!(rows_of(&report, table) >= 10, "{table}: {report:?}");
    }

    // Eleven minutes on: pending requests are gone; codes are kept a while for replay
    // detection; sessions, grants, refresh tokens, deny-list rows still live.
    let report = janitor::purge(store, config, T0 + 660).await.unwrap();
    assert_eq!(
        report.purged("authorization_requests"),
        6,
        "3 per batch, 2 batches"
    );
    assert_eq!(report.purged("authorization_codes"), 0);
    for table in ["sessions", "grants", "refresh_tokens", "revoked_tokens"] {
        assert_eq!(report.purged(table), 0, "{table}");
    }

    // Far in the future everything has expired; each run deletes at most six rows per
    // table, and repeated runs empty every table.
    let later = T0 + 400 * 86_400;
    let first = janitor::purge(store, config, later).await.unwrap();
    for table in TABLES {
        assert!(first.purged(table) <= 6, "{table}: {first:?}");
    }
    assert_eq!(first.purged("authorization_codes"), 6);
    let mut last = first;
    for _ in 0..10 {
        last = janitor::purge(store, config, later).await.unwrap();
    }
    for table in TABLES {
        assert_eq!(rows_of(&last, table), 0, "{table}: {last:?}");
    }
}

#[tokio::test]
async fn replicas_take_turns_and_the_metrics_show_the_work() {
    let app = start(1000, 50).await;
    // The background janitor ran at start-up; its metrics appear.
    let metrics = eventually("the start-up janitor run in the metrics", async || {
        let metrics = app.get_admin("/metrics").await.text().await.unwrap();
        metrics
            .contains("portcullis_janitor_runs_total{outcome=\"purged\"} 1")
            .then_some(metrics)
    })
    .await;
    assert!(
        metrics.contains("portcullis_janitor_runs_total{outcome=\"purged\"} 1"),
        "{metrics}"
    );
    // With the metrics in the message: this failed once in a loaded full run and passed
    // alone, and the text is what tells a slow start from a wrong count.
    assert!(
        metrics.contains("portcullis_table_rows{table=\"grants\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_janitor_purged_rows_total{table=\"sessions\"} 0"),
        "{metrics}"
    );

    // While that replica holds the lease, another one skips; after the lease ends
    // (one interval), the other takes over.
    let (store, config, m) = (&app.state.store, &app.state.config, &app.state.metrics);
    let skipped = janitor::tick(store, config, m, "replica-b", T0 + 1)
        .await
        .unwrap();
    assert!(skipped.is_none());
    let interval = i64::try_from(config.janitor.interval.as_secs()).unwrap();
    let taken = janitor::tick(store, config, m, "replica-b", T0 + interval + 1)
        .await
        .unwrap();
    assert!(taken.is_some());
}
