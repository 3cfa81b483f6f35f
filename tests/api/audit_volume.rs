//! Issue 19, item 5: audit volume bounded without losing evidence. Login attempts the
//! throttle refuses before any password check are counted per key and window and become
//! one `login.throttled` event with their count; every verified wrong password stays its
//! own `login.failure`. `audit.retention_days` prunes old rows behind an `audit.checkpoint`
//! from which `audit verify` still proves the rest, and tampering is still found.

use std::sync::Arc;

use diesel::prelude::*;
use portcullis::audit::{self, AuditEvent, Pruned};
use portcullis::clock::Clock;
use portcullis::config::{Config, ThrottlePolicy};
use portcullis::janitor;
use portcullis::store::models::audit::{self as rows, AuditRow};
use portcullis::store::schema::{audit_events, audit_throttled};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::helpers::{PASSWORD, T0, TestApp, TestClient, TestDb, spawn_app_with};

const FLOOD: usize = 200;
const DAY: i64 = 86_400;

async fn app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| {
        // The per-address request limit is another guard; these tests are about the audit.
        c.rate_limit.token_burst = 10_000;
        c.rate_limit.token_per_second = 10_000;
        // The background janitor runs once at start (the clock at T0, nothing due) and
        // then not again during a test: the tests run it themselves, with a moved clock.
        c.janitor.interval = std::time::Duration::from_secs(86_400);
        tweak(c);
    })
    .await
}

async fn password_client(app: &TestApp) -> TestClient {
    app.confidential_client("rp")
        .grants(&["password"])
        .scope("openid")
        .await
}

async fn password_grant(app: &TestApp, client: &TestClient, password: &str) -> u16 {
    app.token_request(
        client,
        &[
            ("grant_type", "password"),
            ("username", "bob"),
            ("password", password),
            ("scope", "openid"),
        ],
    )
    .await
    .0
}

async fn pending(app: &TestApp) -> Vec<(String, i64, i64, i64)> {
    app.state
        .store
        .run(|conn| {
            Ok(audit_throttled::table
                .select((
                    audit_throttled::throttle_key,
                    audit_throttled::window_start,
                    audit_throttled::window_end,
                    audit_throttled::attempts,
                ))
                .order(audit_throttled::window_start)
                .load(conn)?)
        })
        .await
        .unwrap()
}

async fn events(app: &TestApp, event_type: &'static str) -> Vec<AuditRow> {
    app.state
        .store
        .run(move |conn| rows::of_type(conn, event_type))
        .await
        .unwrap()
}

fn details(row: &AuditRow) -> Value {
    serde_json::from_str(&row.details).unwrap()
}

#[tokio::test]
async fn a_flood_of_throttled_attempts_is_one_row_and_one_event_with_its_count() {
    // Locked after the first failure: every attempt after it is refused unverified.
    let user = ThrottlePolicy {
        max_failures: 1,
        lock_after_failures: 1,
        ..ThrottlePolicy::default()
    };
    let app = Arc::new(app_with(|c| c.login.user = user).await);
    let client = Arc::new(password_client(&app).await);
    app.user("bob").await;
    assert_eq!(password_grant(&app, &client, "wrong").await, 400);
    assert_eq!(app.audit_count(Some("login.failure")).await, 1);
    let rows_before = app.audit_count(None).await;

    let mut flood = JoinSet::new();
    for _ in 0..FLOOD {
        let (app, client) = (app.clone(), client.clone());
        flood.spawn(async move { password_grant(&app, &client, "wrong").await });
    }
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), 400);
    }
    let flood = i64::try_from(FLOOD).unwrap();

    // Not one audit row per attempt: one counter for the key and window, nothing chained yet.
    assert_eq!(app.audit_count(None).await, rows_before);
    let window = app.state.config.audit.throttled_window_secs;
    assert_eq!(
        pending(&app).await,
        vec![("user:bob".to_owned(), T0, T0 + window, flood)]
    );
    assert_eq!(app.audit_count(Some("login.failure")).await, 1);

    // The janitor before the window ends leaves it counting.
    let config = &app.state.config;
    janitor::purge(&app.state.store, config, T0 + window - 1)
        .await
        .unwrap();
    assert_eq!(pending(&app).await.len(), 1);

    // Once it has ended: one chained event with the count, and the counter is gone.
    let report = janitor::purge(&app.state.store, config, T0 + window)
        .await
        .unwrap();
    assert_eq!(report.purged("audit_throttled"), 1);
    assert!(pending(&app).await.is_empty());
    assert_eq!(app.audit_count(None).await, rows_before + 1);
    let written = events(&app, "login.throttled").await;
    assert_eq!(written.len(), 1);
    let event = details(&written[0]);
    assert_eq!(event["key"], "user:bob");
    assert_eq!(event["attempts"], flood);
    assert_eq!(event["window_start"], T0);
    assert_eq!(event["window_end"], T0 + window);
    assert_eq!(written[0].subject.as_deref(), Some("user:bob"));
    assert_eq!(app.throttled_attempts().await, flood);
    assert_eq!(audit::verify(&app.state.store).await.unwrap(), None);

    // A second pass writes nothing more.
    janitor::purge(&app.state.store, config, T0 + window + 1)
        .await
        .unwrap();
    assert_eq!(events(&app, "login.throttled").await.len(), 1);

    // The next window counts afresh (the lock lasts 900 s).
    app.clock.set(T0 + window + 5);
    for _ in 0..3 {
        assert_eq!(password_grant(&app, &client, "wrong").await, 400);
    }
    assert_eq!(
        pending(&app).await,
        vec![("user:bob".to_owned(), T0 + window, T0 + 2 * window, 3)]
    );
    assert_eq!(app.throttled_attempts().await, flood + 3);
    assert_eq!(app.audit_count(Some("login.failure")).await, 1);
}

#[tokio::test]
async fn every_verified_wrong_password_is_still_its_own_failure() {
    let app = app_with(|_| {}).await;
    let client = password_client(&app).await;
    app.user("bob").await;
    let policy = app.state.config.login.user;

    // The free failures are each verified and each recorded.
    for n in 1..=policy.max_failures {
        assert_eq!(password_grant(&app, &client, "wrong").await, 400);
        assert_eq!(app.audit_count(Some("login.failure")).await, i64::from(n));
    }
    assert!(pending(&app).await.is_empty());

    // Then the delay: refused unverified, counted, not a failure (the right password too).
    for _ in 0..20 {
        assert_eq!(password_grant(&app, &client, "wrong").await, 400);
    }
    assert_eq!(password_grant(&app, &client, PASSWORD).await, 400);
    assert_eq!(
        app.audit_count(Some("login.failure")).await,
        i64::from(policy.max_failures)
    );
    assert_eq!(app.audit_count(Some("login.throttled")).await, 0);
    assert_eq!(app.throttled_attempts().await, 21);
    assert_eq!(pending(&app).await[0].0, "user:bob");

    // After the delay the next wrong password is verified again: its own failure.
    app.clock.set(app.clock.now() + policy.base_delay_secs);
    assert_eq!(password_grant(&app, &client, "wrong").await, 400);
    assert_eq!(
        app.audit_count(Some("login.failure")).await,
        i64::from(policy.max_failures) + 1
    );
    assert_eq!(app.throttled_attempts().await, 21);
}

/// Ten events a day for `days` days before T0 + `days` days, then the clock stands there.
async fn history(app: &TestApp, days: i64) {
    for day in 0..days {
        for n in 0..10 {
            let at = T0 + day * DAY + n;
            audit::record(
                &app.state.store,
                at,
                AuditEvent::new("test.event")
                    .subject(format!("d{day}n{n}"))
                    .details(serde_json::json!({ "day": day, "n": n })),
            )
            .await
            .unwrap();
        }
    }
    app.clock.set(T0 + days * DAY);
}

async fn first_seq(app: &TestApp) -> i64 {
    app.state.store.run(rows::first_seq).await.unwrap().unwrap()
}

async fn tamper(app: &TestApp, seq: i64) {
    app.state
        .store
        .run(move |conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(seq)))
                .set(audit_events::details.eq("{\"forged\":true}"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn retention_prunes_behind_a_checkpoint_and_verify_still_proves_the_rest() {
    let app = app_with(|c| c.audit.retention_days = Some(2)).await;
    history(&app, 5).await;
    let store = &app.state.store;
    assert_eq!(first_seq(&app).await, 1);

    // Rows older than two days go: the setup's and days 0 to 2.
    let now = app.clock.now();
    let report = janitor::purge(store, &app.state.config, now).await.unwrap();
    let pruned = report.purged("audit_events");
    let first = first_seq(&app).await;
    assert_eq!(i64::try_from(pruned).unwrap(), first - 1);
    let left: Vec<AuditRow> = store.run(|c| rows::page(c, 0, 1)).await.unwrap();
    assert_eq!(left[0].occurred_at, T0 + 3 * DAY, "the first row of day 3");

    // The checkpoint: keyed, at the head, naming the last pruned row and its hash.
    let checkpoints = events(&app, "audit.checkpoint").await;
    assert_eq!(checkpoints.len(), 1);
    let checkpoint = &checkpoints[0];
    assert_eq!(checkpoint.key_id, store.audit_keys().ids().first().cloned());
    assert_eq!(checkpoint.actor.as_deref(), Some("system"));
    let d = details(checkpoint);
    assert_eq!(d["pruned_from_seq"], 1);
    assert_eq!(d["pruned_through_seq"], first - 1);
    assert_eq!(d["pruned_rows"], first - 1);
    assert_eq!(d["older_than"], now - 2 * DAY);
    assert_eq!(
        d["pruned_through_hash"],
        portcullis::encoding::hex(&left[0].prev_hash)
    );
    assert_eq!(audit::verify(store).await.unwrap(), None);

    // Nothing more is old enough: a second pass prunes nothing and writes no checkpoint.
    let report = janitor::purge(store, &app.state.config, now).await.unwrap();
    assert_eq!(report.purged("audit_events"), 0);
    assert_eq!(events(&app, "audit.checkpoint").await.len(), 1);

    // A changed row after pruning is found as before.
    tamper(&app, first + 3).await;
    let broken = audit::verify(store).await.unwrap().unwrap();
    assert_eq!(
        (broken.seq, broken.reason),
        (first + 3, audit::CONTENT_CHANGED)
    );
}

#[tokio::test]
async fn cutting_rows_off_the_start_is_not_a_prune() {
    let app = app_with(|c| c.audit.retention_days = Some(2)).await;
    history(&app, 5).await;
    let store = &app.state.store;
    janitor::purge(store, &app.state.config, app.clock.now())
        .await
        .unwrap();
    let first = first_seq(&app).await;
    assert_eq!(audit::verify(store).await.unwrap(), None);

    // Someone deletes the first rows left: no checkpoint accounts for them.
    store
        .run(move |conn| {
            diesel::delete(audit_events::table.filter(audit_events::seq.le(first + 1)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let broken = audit::verify(store).await.unwrap().unwrap();
    assert_eq!((broken.seq, broken.reason), (first, audit::ROW_MISSING));
}

#[tokio::test]
async fn a_forged_checkpoint_is_not_believed() {
    let app = app_with(|c| c.audit.retention_days = Some(2)).await;
    history(&app, 5).await;
    let store = &app.state.store;
    janitor::purge(store, &app.state.config, app.clock.now())
        .await
        .unwrap();
    let first = first_seq(&app).await;
    // Without the key, the checkpoint is rewritten to claim more rows were pruned, and
    // those rows are deleted.
    let checkpoint = events(&app, "audit.checkpoint").await.remove(0);
    let forged = details(&checkpoint);
    let next: Vec<AuditRow> = store.run(move |c| rows::page(c, first, 1)).await.unwrap();
    let mut claim = forged.clone();
    claim["pruned_through_seq"] = first.into();
    claim["pruned_through_hash"] = portcullis::encoding::hex(&next[0].prev_hash).into();
    let (seq, text) = (checkpoint.seq, claim.to_string());
    store
        .run(move |conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(seq)))
                .set(audit_events::details.eq(text))
                .execute(conn)?;
            diesel::delete(audit_events::table.filter(audit_events::seq.le(first)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let broken = audit::verify(store).await.unwrap().unwrap();
    assert_eq!(broken.reason, audit::ROW_MISSING);
    assert!(broken.seq <= first, "{broken:?}");
}

#[tokio::test]
async fn a_broken_stretch_is_kept_not_pruned() {
    let app = app_with(|c| c.audit.retention_days = Some(2)).await;
    history(&app, 5).await;
    let store = &app.state.store;
    // A row of day 1, due for pruning, was changed.
    let victim: Vec<AuditRow> = store
        .run(|c| {
            Ok(audit_events::table
                .filter(audit_events::occurred_at.eq(T0 + DAY + 4))
                .select(AuditRow::as_select())
                .load(c)?)
        })
        .await
        .unwrap();
    let victim = victim[0].seq;
    tamper(&app, victim).await;

    let before = T0 + 3 * DAY;
    let pruned = audit::prune(store, before, app.clock.now(), 1000)
        .await
        .unwrap();
    let Pruned::Refused(broken) = pruned else {
        panic!("pruned a broken chain: {pruned:?}")
    };
    assert_eq!(
        (broken.seq, broken.reason),
        (victim, audit::CONTENT_CHANGED)
    );
    assert_eq!(first_seq(&app).await, 1, "nothing was pruned");
    assert!(events(&app, "audit.checkpoint").await.is_empty());
    let still = audit::verify(store).await.unwrap().unwrap();
    assert_eq!(still.seq, victim);
}

#[tokio::test]
async fn prunes_in_batches_race_appends_and_each_other_and_keep_one_chain() {
    let app = app_with(|_| {}).await;
    history(&app, 4).await;
    let store = app.state.store.clone();
    let before = T0 + 3 * DAY;
    let now = app.clock.now();
    let mut tasks = JoinSet::new();
    for n in 0..20 {
        let store = store.clone();
        tasks.spawn(async move {
            audit::record(&store, now, AuditEvent::new("race").subject(format!("{n}")))
                .await
                .map(|()| None)
        });
    }
    for _ in 0..4 {
        let store = store.clone();
        // Small batches, so several prunes and their checkpoints interleave.
        tasks.spawn(async move {
            loop {
                match audit::prune(&store, before, now, 7).await {
                    Ok(Pruned::Rows { .. }) => {}
                    Ok(Pruned::Nothing) => return Ok(Some(())),
                    Ok(Pruned::Refused(broken)) => panic!("{broken:?}"),
                    // Another prune removed the same rows first.
                    Err(portcullis::store::StoreError::Conflict) => {}
                    Err(other) => return Err(other),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(app.audit_count(Some("race")).await, 20);
    let left: Vec<AuditRow> = store.run(|c| rows::page(c, 0, 1)).await.unwrap();
    assert_eq!(
        left[0].occurred_at, before,
        "every older row went, no newer one"
    );
    assert!(events(&app, "audit.checkpoint").await.len() >= 2);
    assert_eq!(audit::verify(&store).await.unwrap(), None);

    // A head written down before the prune can no longer be checked: said so.
    let head = audit::ChainHead {
        seq: 2,
        hash: "00".repeat(32),
    };
    let broken = audit::verify_from(&store, &head).await.unwrap().unwrap();
    assert_eq!((broken.seq, broken.reason), (2, audit::HEAD_PRUNED));
}
