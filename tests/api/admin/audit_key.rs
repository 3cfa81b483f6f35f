//! The keyed audit chain (issue 18, item 9): someone who can write to the database but
//! does not hold the audit key cannot rewrite rows and recompute the chain; rows written
//! before the chain was keyed are sealed by the upgrade; a log cut off after a known head
//! is found; actors cannot be spoofed by a client's name; audit keys are shown by
//! fingerprint only.

use std::sync::Arc;

use diesel::prelude::*;
use portcullis::admin::table::Method;
use portcullis::audit::{self, AuditActor, AuditEvent, CHAIN_KEYED};
use portcullis::crypto::key_material::{MasterKey, MasterKeys};
use portcullis::store::migrate::{self, AUDIT_KEY_VERSION};
use portcullis::store::models::audit::{self as rows, AuditRow};
use portcullis::store::schema::audit_events;
use portcullis::store::{DatabaseUrl, Store};
use serde_json::{Value, json};

use super::{admin_token, call, cli_fails, cli_json};
use crate::helpers::{T0, TestApp, TestDb, post_with_basic, spawn_app, spawn_app_with};

/// Writes `n` events, as any part of the server would.
async fn record(store: &Store, n: i64) {
    for i in 0..n {
        audit::record(
            store,
            T0 + i,
            AuditEvent::new("test.event")
                .by(AuditActor::Cli)
                .subject(format!("s{i}"))
                .details(json!({ "n": i })),
        )
        .await
        .unwrap();
    }
}

async fn all_rows(store: &Store) -> Vec<AuditRow> {
    store.run(|conn| rows::page(conn, 0, 10_000)).await.unwrap()
}

/// Overwrites rows as someone with write access to the database would.
async fn overwrite(store: &Store, changed: Vec<AuditRow>) {
    store
        .run(move |conn| {
            for row in changed {
                diesel::update(audit_events::table.filter(audit_events::seq.eq(row.seq)))
                    .set((
                        audit_events::details.eq(row.details),
                        audit_events::key_id.eq(row.key_id),
                        audit_events::prev_hash.eq(row.prev_hash),
                        audit_events::hash.eq(row.hash),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// Rewrites every row from `from` on with plain SHA-256 links, changing `from`'s details:
/// all that someone without the key can compute. `keep_key_id` leaves the rows claiming
/// their key.
fn recompute_unkeyed(mut rows: Vec<AuditRow>, from: i64, keep_key_id: bool) -> Vec<AuditRow> {
    let mut prev = rows
        .iter()
        .find(|r| r.seq == from - 1)
        .map_or(vec![0u8; 32], |r| r.hash.clone());
    rows.retain(|r| r.seq >= from);
    for row in &mut rows {
        if row.seq == from {
            row.details = json!({ "rewritten": true }).to_string();
        }
        if !keep_key_id {
            row.key_id = None;
        }
        row.prev_hash = prev.clone();
        row.hash = audit::unkeyed_chain_hash(&prev, row).unwrap();
        prev = row.hash.clone();
    }
    rows
}

async fn verify(app: &TestApp, token: &str, head: Option<&str>) -> Value {
    let path = match head {
        Some(head) => format!("/admin/v1/audit/verify?head={head}"),
        None => "/admin/v1/audit/verify".to_owned(),
    };
    let (status, body) = call(app, Method::Get, &path, token, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn broken(seq: i64, reason: &str) -> Value {
    json!({ "seq": seq, "reason": reason })
}

fn audit_keys(keys: &[&str]) -> Option<Arc<MasterKeys>> {
    Some(Arc::new(
        MasterKeys::new(
            keys.iter()
                .map(|k| MasterKey::from_base64(k).unwrap())
                .collect(),
        )
        .unwrap(),
    ))
}

fn new_key() -> String {
    MasterKey::generate().unwrap().to_base64().to_string()
}

#[tokio::test]
async fn a_rewritten_row_with_a_recomputed_unkeyed_chain_is_found() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["auditor"]).await;
    let store = &app.state.store;
    record(store, 6).await;
    assert_eq!(verify(&app, &token, None).await["intact"], true);
    let original = all_rows(store).await;
    let target = original[3].seq;
    // Every row is keyed, and names its key.
    assert!(original.iter().all(|r| r.key_id.is_some()));

    // 1. Row `target` and every row after it rewritten with recomputed plain hashes, the
    //    key ids dropped: a plain row after a keyed one is refused.
    overwrite(store, recompute_unkeyed(original.clone(), target, false)).await;
    let report = verify(&app, &token, None).await;
    assert_eq!(
        report["first_broken"],
        broken(target, audit::UNKEYED_AFTER_KEYED),
        "{report}"
    );

    // 2. The same, but the rows still claim their key: the MAC does not match.
    overwrite(store, recompute_unkeyed(original.clone(), target, true)).await;
    let report = verify(&app, &token, None).await;
    assert_eq!(
        report["first_broken"],
        broken(target, audit::CONTENT_CHANGED),
        "{report}"
    );

    // 3. The whole chain, the seal included, rewritten as a plain chain from the start:
    //    every link checks, but a chain with no keyed row is not ours.
    overwrite(store, recompute_unkeyed(original.clone(), 1, false)).await;
    let report = verify(&app, &token, None).await;
    let last = original.last().unwrap().seq;
    assert_eq!(
        report["first_broken"],
        broken(last, audit::NEVER_KEYED),
        "{report}"
    );

    // Put back, the chain is whole again: the check was about the rewrite.
    overwrite(store, original).await;
    assert_eq!(verify(&app, &token, None).await["intact"], true);
}

#[tokio::test]
async fn the_chain_verifies_only_with_the_right_key() {
    // A chain linked by a key derived from the master key: a server with another audit
    // key finds the first row it cannot check, and so does the first server for rows
    // the other one linked.
    let db = Arc::new(TestDb::new());
    let derived = spawn_app_with(Arc::clone(&db), |_| {}).await;
    let token = admin_token(&derived, &["auditor"]).await;
    record(&derived.state.store, 3).await;
    assert_eq!(verify(&derived, &token, None).await["intact"], true);
    let rows_before = all_rows(&derived.state.store).await.len() as i64;

    let other_key = new_key();
    let other = spawn_app_with(Arc::clone(&db), |c| {
        c.keys.audit_keys = audit_keys(&[&other_key]);
    })
    .await;
    let other_token = admin_token(&other, &["auditor"]).await;
    let report = verify(&other, &other_token, None).await;
    assert_eq!(
        report["first_broken"],
        broken(1, audit::UNKNOWN_KEY),
        "{report}"
    );
    let report = verify(&derived, &token, None).await;
    assert_eq!(
        report["first_broken"],
        broken(rows_before + 1, audit::UNKNOWN_KEY),
        "{report}"
    );

    // Rotation: configured keys, the new one first and the old one still listed; rows
    // name the key that linked them, and verify only while that key is configured.
    let db = Arc::new(TestDb::new());
    let (k1, k2) = (new_key(), new_key());
    let first = spawn_app_with(Arc::clone(&db), |c| c.keys.audit_keys = audit_keys(&[&k1])).await;
    record(&first.state.store, 2).await;
    let rotated = spawn_app_with(Arc::clone(&db), |c| {
        c.keys.audit_keys = audit_keys(&[&k2, &k1])
    })
    .await;
    let rotated_token = admin_token(&rotated, &["auditor"]).await;
    record(&rotated.state.store, 2).await;
    let report = verify(&rotated, &rotated_token, None).await;
    assert_eq!(report["intact"], true, "{report}");
    let ids: Vec<String> = all_rows(&rotated.state.store)
        .await
        .into_iter()
        .filter_map(|r| r.key_id)
        .collect();
    let fp = |k: &str| MasterKey::from_base64(k).unwrap().fingerprint();
    assert_eq!(ids.first(), Some(&fp(&k1)));
    assert_eq!(ids.last(), Some(&fp(&k2)));
    let dropped = spawn_app_with(Arc::clone(&db), |c| c.keys.audit_keys = audit_keys(&[&k2])).await;
    let dropped_token = admin_token(&dropped, &["auditor"]).await;
    let report = verify(&dropped, &dropped_token, None).await;
    assert_eq!(
        report["first_broken"],
        broken(1, audit::UNKNOWN_KEY),
        "{report}"
    );
}

#[tokio::test]
async fn a_log_cut_off_after_a_known_head_is_found() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["auditor"]).await;
    let store = &app.state.store;
    record(store, 4).await;
    let report = verify(&app, &token, None).await;
    assert_eq!(report["intact"], true, "{report}");
    // The head an operator writes down (it is also in every audit log line).
    let head = format!(
        "{}:{}",
        report["head"]["seq"],
        report["head"]["hash"].as_str().unwrap()
    );
    let head_seq = report["head"]["seq"].as_i64().unwrap();
    record(store, 3).await;
    assert_eq!(verify(&app, &token, Some(&head)).await["intact"], true);
    let cli = cli_json(&app, &["audit", "verify", "--head", &head]).await;
    assert_eq!(cli["intact"], true, "{cli}");

    // Cut the log off two rows before the known head: every row left still links, so a
    // check without the head cannot tell; with it, the cut is found.
    store
        .run(move |conn| {
            diesel::delete(audit_events::table.filter(audit_events::seq.ge(head_seq - 1)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(verify(&app, &token, None).await["intact"], true);
    let report = verify(&app, &token, Some(&head)).await;
    assert_eq!(report["intact"], false);
    assert_eq!(
        report["first_broken"],
        broken(head_seq - 1, audit::HEAD_CUT_OFF),
        "{report}"
    );
    let err = cli_fails(&app, &["audit", "verify", "--head", &head]).await;
    assert!(err.contains(audit::HEAD_CUT_OFF), "{err}");

    // A head whose hash differs from the row now at its place.
    let report = verify(&app, &token, None).await;
    let seq = report["head"]["seq"].as_i64().unwrap();
    let wrong = format!("{seq}:{}", "ab".repeat(32));
    let report = verify(&app, &token, Some(&wrong)).await;
    assert_eq!(
        report["first_broken"],
        broken(seq, audit::HEAD_DIFFERS),
        "{report}"
    );

    // A head that is not SEQ:HASH is a 400 naming the parameter, never a pass.
    for bad in ["12", "x:abcd", "3:abc", "0:".to_owned().as_str()] {
        let (status, body) = call(
            &app,
            Method::Get,
            &format!("/admin/v1/audit/verify?head={bad}"),
            &token,
            None,
        )
        .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some("head")),
            "{bad}: {body}"
        );
    }
    let err = cli_fails(&app, &["audit", "verify", "--head", "12"]).await;
    assert!(err.contains("SEQ:HASH"), "{err}");
}

/// A database as a binary from before the keyed chain left it: migrated up to the
/// migration before, with plain-hash rows written the old way.
async fn database_from_before_the_key(old_rows: i64) -> Arc<TestDb> {
    let db = Arc::new(TestDb::new());
    let url = DatabaseUrl::parse(&db.url).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut conn =
            portcullis::store::conn::establish(&url, std::time::Duration::from_secs(5)).unwrap();
        migrate::run_pending_before(&mut conn, AUDIT_KEY_VERSION).unwrap();
        let mut prev = vec![0u8; 32];
        for seq in 1..=old_rows {
            let mut row = AuditRow {
                seq,
                id: uuid::Uuid::now_v7().to_string(),
                occurred_at: T0 - 100 + seq,
                event_type: "user.created".into(),
                actor: Some("cli".into()),
                subject: Some(format!("u{seq}")),
                details: json!({ "old": seq }).to_string(),
                prev_hash: prev.clone(),
                hash: Vec::new(),
                key_id: None,
            };
            row.hash = audit::unkeyed_chain_hash(&prev, &row).unwrap();
            prev = row.hash.clone();
            // The old schema has no key_id column.
            diesel::insert_into(audit_events::table)
                .values((
                    audit_events::seq.eq(row.seq),
                    audit_events::id.eq(row.id),
                    audit_events::occurred_at.eq(row.occurred_at),
                    audit_events::event_type.eq(row.event_type),
                    audit_events::actor.eq(row.actor),
                    audit_events::subject.eq(row.subject),
                    audit_events::details.eq(row.details),
                    audit_events::prev_hash.eq(row.prev_hash),
                    audit_events::hash.eq(row.hash),
                ))
                .execute(&mut conn)
                .unwrap();
        }
    })
    .await
    .unwrap();
    db
}

#[tokio::test]
async fn rows_written_before_the_chain_was_keyed_verify_once_sealed() {
    let db = database_from_before_the_key(5).await;
    // Starting the new binary applies the migration, which seals the old rows.
    let app = spawn_app_with(Arc::clone(&db), |_| {}).await;
    let token = admin_token(&app, &["auditor"]).await;
    record(&app.state.store, 2).await;
    let report = verify(&app, &token, None).await;
    assert_eq!(report["intact"], true, "{report}");

    let all = all_rows(&app.state.store).await;
    assert!(
        all[..5].iter().all(|r| r.key_id.is_none()),
        "old rows keep their plain hash"
    );
    let seal = &all[5];
    assert_eq!((seal.seq, seal.event_type.as_str()), (6, CHAIN_KEYED));
    assert_eq!(seal.actor.as_deref(), Some("system"));
    assert_eq!(
        serde_json::from_str::<Value>(&seal.details).unwrap(),
        json!({ "sealed_through_seq": 5 })
    );
    assert_eq!(
        seal.prev_hash, all[4].hash,
        "the seal links to the last old row"
    );
    assert!(
        all[5..].iter().all(|r| r.key_id.is_some()),
        "every row after is keyed"
    );
}

#[tokio::test]
async fn the_upgrade_that_keys_the_chain_seals_the_rows_before_it() {
    let db = database_from_before_the_key(5).await;
    let app = spawn_app_with(Arc::clone(&db), |_| {}).await;
    let token = admin_token(&app, &["auditor"]).await;
    let store = &app.state.store;
    let original = all_rows(store).await;

    // An old row rewritten and the plain links after it recomputed, up to the seal: the
    // seal's MAC covers the last old row's hash, so the rewrite is found there.
    overwrite(
        store,
        recompute_unkeyed(original.clone(), 2, false)[..4].to_vec(),
    )
    .await;
    let report = verify(&app, &token, None).await;
    assert_eq!(
        report["first_broken"],
        broken(6, audit::LINK_BROKEN),
        "{report}"
    );
    overwrite(store, original.clone()).await;
    assert_eq!(verify(&app, &token, None).await["intact"], true);

    // Only the run that applied the migration seals: another start adds no seal, and a
    // deleted seal (with all after it) is not replaced: the plain rows left are found,
    // whether or not the server has linked a row to them since.
    let again = spawn_app_with(Arc::clone(&db), |_| {}).await;
    assert_eq!(again.audit_count(Some(CHAIN_KEYED)).await, 1);
    store
        .run(|conn| {
            diesel::delete(audit_events::table.filter(audit_events::seq.ge(6))).execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let restarted = spawn_app_with(Arc::clone(&db), |_| {}).await;
    assert_eq!(restarted.audit_count(Some(CHAIN_KEYED)).await, 0);
    let last = all_rows(store).await.last().unwrap().seq;
    let first = audit::verify(&restarted.state.store).await.unwrap();
    let expected = if last == 5 {
        (5, audit::NEVER_KEYED)
    } else {
        (6, audit::NOT_SEALED)
    };
    assert_eq!(first.map(|b| (b.seq, b.reason)), Some(expected));
    record(&restarted.state.store, 1).await;
    let first = audit::verify(&restarted.state.store).await.unwrap();
    assert_eq!(
        first.map(|b| (b.seq, b.reason)),
        Some((6, audit::NOT_SEALED))
    );
}

#[tokio::test]
async fn clients_named_cli_or_system_cannot_pass_for_them() {
    let app = spawn_app().await;
    let admin = admin_token(&app, &["admin"]).await;
    for id in ["cli", "system", "CLI", "System"] {
        let (status, body) = call(
            &app,
            Method::Post,
            "/admin/v1/clients",
            &admin,
            Some(json!({
                "client_id": id, "client_name": "x",
                "redirect_uris": ["https://app.example/cb"], "scope": "openid",
            })),
        )
        .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (400, Some("client_id")),
            "{id}: {body}"
        );
    }
    let err = cli_fails(
        &app,
        &["client", "create", "--client-id", "system", "--name", "x"],
    )
    .await;
    assert!(err.contains("reserved"), "{err}");

    // Import: a bundle naming a client `cli` is refused as a whole.
    app.confidential_client("ordinary")
        .grants(&["client_credentials"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    cli_json(&app, &["export", "--dir", &d]).await;
    let path = dir.path().join("clients.json");
    let mut clients: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for c in clients.as_array_mut().unwrap() {
        if c["client_id"] == "ordinary" {
            c["client_id"] = json!("cli");
        }
    }
    std::fs::write(&path, clients.to_string()).unwrap();
    let err = cli_fails(&app, &["import", "--dir", &d]).await;
    assert!(
        err.contains("client_id") && err.contains("reserved"),
        "{err}"
    );

    // Actors are typed: what a client does is recorded as `client:<id>`, so even a
    // client's name never reads as the CLI or the server.
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .scope("api")
        .await;
    let at = app.cc_token(&svc, Some("api")).await;
    let r = post_with_basic(&app, "/revoke", &[("token", &at)], svc.basic()).await;
    assert_eq!(r.status(), 200);
    let (_, page) = call(
        &app,
        Method::Get,
        "/admin/v1/audit?type=token.revoked",
        &admin,
        None,
    )
    .await;
    assert_eq!(page["items"][0]["actor"], "client:svc", "{page}");
    let (_, by_cli) = call(&app, Method::Get, "/admin/v1/audit?actor=cli", &admin, None).await;
    assert!(
        by_cli["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event_type"] != "token.revoked"),
        "{by_cli}"
    );
}

#[tokio::test]
async fn audit_keys_are_secret_settings_shown_by_fingerprint_only() {
    let db = Arc::new(TestDb::new());
    let key = new_key();
    let fingerprint = MasterKey::from_base64(&key).unwrap().fingerprint();
    let run = |env: Vec<(&'static str, String)>, args: &[&str]| {
        let mut cmd = crate::cli::base_command(&db);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args).output().unwrap()
    };

    // `config check` names the key by its fingerprint, from the setting or from a file.
    let file = db.dir.path().join("audit.keys");
    std::fs::write(&file, format!("# audit key\n{key}\n")).unwrap();
    for env in [
        vec![("PORTCULLIS_KEYS__AUDIT_KEYS", key.clone())],
        vec![(
            "PORTCULLIS_KEYS__AUDIT_KEYS_FILE",
            file.display().to_string(),
        )],
    ] {
        let out = run(env, &["--json", "config", "check"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !shown.contains(&key) && !shown.contains(key.trim_end_matches('=')),
            "{shown}"
        );
        let config: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            config["config"]["keys"]["audit_keys"],
            json!({ "fingerprints": [fingerprint] }),
            "{config}"
        );
    }
    // Without one, the key is derived from the master key.
    let out = run(vec![], &["--json", "config", "check"]);
    let config: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        config["config"]["keys"]["audit_keys"],
        "derived from the master keys"
    );

    // A bad key: the error names the setting, never the input.
    let bad = "c2VjcmV0LWJ1dC10b28tc2hvcnQ=";
    let out = run(
        vec![("PORTCULLIS_KEYS__AUDIT_KEYS", bad.into())],
        &["config", "check"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("keys.audit_keys") && !err.contains(bad),
        "{err}"
    );

    // Rows the server links name the key by the same fingerprint; Debug never shows it.
    let app = spawn_app_with(Arc::clone(&db), |c| c.keys.audit_keys = audit_keys(&[&key])).await;
    assert!(!format!("{:?}", app.state.config).contains(&key));
    assert!(!format!("{:?}", app.state.store.audit_keys()).contains(&key));
    let token = admin_token(&app, &["auditor"]).await;
    let (_, page) = call(&app, Method::Get, "/admin/v1/audit", &token, None).await;
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|e| e["key_id"] == fingerprint.as_str()),
        "{page}"
    );
    assert_eq!(verify(&app, &token, None).await["intact"], true);
}
