//! The audit log through the admin API and the CLI: tampering (a changed, deleted or
//! reordered row) is found and named the same way by both, and queries filter by time,
//! type, actor and subject with paging.

use std::collections::BTreeSet;

use diesel::prelude::*;
use portcullis::admin::table::Method;
use portcullis::store::schema::audit_events;
use serde_json::{Value, json};

use super::{Same, admin_token, assert_parity, call, cli_json, ok, step};
use crate::cli::ok_json;
use crate::helpers::{T0, TestApp, spawn_app};

/// Runs `audit verify` through the API and the CLI; both must name the same row.
async fn verify_both(app: &TestApp, token: &str) -> (Value, Result<Value, String>) {
    let (status, api) = call(app, Method::Get, "/admin/v1/audit/verify", token, None).await;
    assert_eq!(status, 200);
    let db = app.db.clone();
    let cli = tokio::task::spawn_blocking(move || {
        let out = crate::cli::run(&db, &["--json", "audit", "verify"], None);
        let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
        if out.status.success() {
            Ok(stdout)
        } else {
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(stdout["intact"], false);
            Err(err)
        }
    })
    .await
    .unwrap();
    (api, cli)
}

#[tokio::test]
async fn audit_verify_names_the_changed_deleted_or_reordered_row() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["auditor"]).await;
    for n in 0..6 {
        portcullis::audit::record(
            &app.state.store,
            T0 + n,
            portcullis::audit::AuditEvent::new("test.event")
                .by(portcullis::audit::AuditActor::Cli)
                .subject(format!("s{n}"))
                .details(json!({ "n": n })),
        )
        .await
        .unwrap();
    }
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(api["intact"], true, "{api}");
    assert_eq!(cli.unwrap(), api);
    let rows = api["rows"].as_i64().unwrap();
    assert!(rows >= 6);

    let store = &app.state.store;
    // 1. Change a row's content.
    let original: String = store
        .run(|conn| {
            Ok(audit_events::table
                .filter(audit_events::seq.eq(4))
                .select(audit_events::details)
                .first(conn)?)
        })
        .await
        .unwrap();
    store
        .run(|conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(4)))
                .set(audit_events::actor.eq("someone-else"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(
        api["first_broken"],
        json!({ "seq": 4, "reason": "row content changed" })
    );
    assert!(cli.unwrap_err().contains("seq 4: row content changed"));
    store
        .run(move |conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(4)))
                .set((
                    audit_events::actor.eq("cli"),
                    audit_events::details.eq(original),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(verify_both(&app, &token).await.0["intact"], true);

    // 2. Reorder two rows (swap their sequence numbers).
    let swap = |a: i64, b: i64| {
        let store = app.state.store.clone();
        async move {
            store
                .run(move |conn| {
                    conn.transaction(|conn| {
                        diesel::update(audit_events::table.filter(audit_events::seq.eq(a)))
                            .set(audit_events::seq.eq(-1))
                            .execute(conn)?;
                        diesel::update(audit_events::table.filter(audit_events::seq.eq(b)))
                            .set(audit_events::seq.eq(a))
                            .execute(conn)?;
                        diesel::update(audit_events::table.filter(audit_events::seq.eq(-1)))
                            .set(audit_events::seq.eq(b))
                            .execute(conn)?;
                        Ok(())
                    })
                })
                .await
                .unwrap();
        }
    };
    swap(2, 3).await;
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(
        api["first_broken"],
        json!({ "seq": 2, "reason": "link to previous row broken" })
    );
    assert!(cli.unwrap_err().contains("seq 2"));
    swap(2, 3).await;
    assert_eq!(verify_both(&app, &token).await.0["intact"], true);

    // 3. Delete a row.
    store
        .run(|conn| {
            diesel::delete(audit_events::table.filter(audit_events::seq.eq(3))).execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(api["intact"], false);
    assert_eq!(
        api["first_broken"],
        json!({ "seq": 3, "reason": "row missing" })
    );
    assert!(cli.unwrap_err().contains("seq 3: row missing"));
}

async fn audit_page(app: &TestApp, token: &str, query: &str) -> Value {
    ok(
        app,
        token,
        Method::Get,
        &format!("/admin/v1/audit{query}"),
        None,
    )
    .await
}

#[tokio::test]
async fn audit_query_filters_by_time_type_actor_and_subject_with_paging() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["auditor"]).await;
    for n in 0..10_i64 {
        let event =
            portcullis::audit::AuditEvent::new(if n % 2 == 0 { "user.a" } else { "client.b" })
                .by(if n < 5 {
                    portcullis::audit::AuditActor::Cli
                } else {
                    portcullis::audit::AuditActor::System
                })
                .subject(format!("s{}", n % 3));
        portcullis::audit::record(&app.state.store, 1000 + n, event)
            .await
            .unwrap();
    }
    let seqs = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["occurred_at"].as_i64().unwrap() - 1000)
            .collect()
    };
    assert_eq!(
        seqs(&audit_page(&app, &token, "?from=1002&to=1004").await),
        vec![2, 3, 4]
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?type=user.a&to=1009").await),
        vec![0, 2, 4, 6, 8]
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?type=client.*&to=1009").await),
        vec![1, 3, 5, 7, 9]
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?type=user.%25").await),
        Vec::<i64>::new()
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?actor=system&subject=s1&from=1000&to=1010").await),
        vec![7]
    );
    let page = audit_page(&app, &token, "?from=1000&to=1009&limit=4&offset=4").await;
    assert_eq!(seqs(&page), vec![4, 5, 6, 7]);
    assert_eq!(page["next_offset"], 8);
    let last = audit_page(&app, &token, "?from=1000&to=1009&limit=4&offset=8").await;
    assert_eq!(seqs(&last), vec![8, 9]);
    assert!(last.get("next_offset").is_none());
    // The same query through the CLI gives the same events.
    let db = app.db.clone();
    let cli = tokio::task::spawn_blocking(move || {
        ok_json(
            &db,
            &["audit", "query", "--type", "client.*", "--actor", "system"],
            None,
        )
    })
    .await
    .unwrap();
    let api = audit_page(&app, &token, "?type=client.*&actor=system").await;
    assert_eq!(cli, api["items"]);
}

/// The audit log reads the same through the API and the CLI, and names who made each
/// change: a service account for the API's, `cli` for the CLI's.
#[tokio::test]
async fn api_and_cli_read_the_audit_log_the_same_way() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    assert_parity(
        &app,
        &token,
        vec![step(
            "a change each",
            Method::Post,
            "/admin/v1/users",
            Some(json!({ "username": "api-user", "roles": ["staff"] })),
            &["user", "create", "cli-user", "--role", "staff"],
            Same::Created(
                "password",
                &["id", "username", "created_at", "updated_at", "password"],
            ),
        )],
    )
    .await;

    let a = ok(
        &app,
        &token,
        Method::Get,
        "/admin/v1/audit?limit=1000",
        None,
    )
    .await;
    let c = cli_json(&app, &["audit", "query", "--limit", "1000"]).await;
    assert_eq!(a["items"], c);
    let actors: BTreeSet<&str> = c
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert!(actors.contains("cli"));
    assert!(
        actors.iter().any(|a| a.starts_with("client:svc-admin-")),
        "{actors:?}"
    );
    assert_parity(
        &app,
        &token,
        vec![step(
            "verify",
            Method::Get,
            "/admin/v1/audit/verify",
            None,
            &["audit", "verify"],
            Same::Exactly,
        )],
    )
    .await;
}
