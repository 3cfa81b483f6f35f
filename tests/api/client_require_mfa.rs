//! A client's `require_mfa` (issue 20, item 5): off unless asked for, set and changed
//! through the admin API and the CLI alike, carried by the client the protocol code reads
//! (the client cache) and by export and import; an export written before the field
//! existed imports as "not required". Runs on the suite's backend (SQLite, or Postgres
//! with PORTCULLIS_TEST_DATABASE_URL); the import goes into the other one when it can.

use std::sync::Arc;

use diesel::prelude::*;
use portcullis::store::schema::clients;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, spawn_app, spawn_app_with};

/// A bearer token for the admin API held by a service account with the `admin` role.
async fn admin_token(app: &TestApp) -> String {
    let account = app
        .confidential_client("ops-console")
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&["admin"])
        .await;
    app.cc_token(&account, Some("admin")).await
}

async fn admin(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.admin))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn cli(db: &Arc<TestDb>, args: &[&str]) -> Result<Value, String> {
    let db = Arc::clone(db);
    let mut all = vec!["--json".to_owned()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = crate::cli::run(&db, &args, None);
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    })
    .await
    .unwrap()
}

/// What the protocol code sees: the client as the cache in front of the table loads it.
async fn registered_requires_mfa(app: &TestApp, id: &str) -> bool {
    app.state
        .clients
        .get(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("client {id} is not registered"))
        .require_mfa
}

/// The client as the admin API and the CLI show it.
async fn view(app: &TestApp, id: &str) -> Value {
    serde_json::to_value(app.state.service.get_client(id).await.unwrap()).unwrap()
}

/// The `client.updated` audit rows of `id`, oldest first.
async fn client_updates(app: &TestApp, id: &str) -> Vec<Value> {
    app.state
        .service
        .query_audit(
            portcullis::manage::audit::AuditFilter {
                event_type: Some("client.updated".into()),
                subject: Some(id.into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.details)
        .collect()
}

#[tokio::test]
async fn require_mfa_is_off_unless_asked_for() {
    let app = spawn_app().await;
    let token = admin_token(&app).await;

    let (status, created) = admin(
        &app,
        &token,
        reqwest::Method::POST,
        "/admin/v1/clients",
        Some(
            json!({ "client_id": "api-default", "client_name": "Default",
                     "redirect_uris": ["https://app.example/cb"] }),
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["require_mfa"], false);
    let (_, shown) = admin(
        &app,
        &token,
        reqwest::Method::GET,
        "/admin/v1/clients/api-default",
        None,
    )
    .await;
    assert_eq!(shown["require_mfa"], false);

    let by_cli = cli(
        &app.db,
        &[
            "client",
            "create",
            "--client-id",
            "cli-default",
            "--name",
            "Default",
        ],
    )
    .await
    .unwrap();
    assert_eq!(by_cli["require_mfa"], false);

    app.confidential_client("kit-default").await;
    for id in ["api-default", "cli-default", "kit-default"] {
        assert!(!registered_requires_mfa(&app, id).await, "{id}");
    }
    // A row written without naming the column (by anything older than this column)
    // reads as not required: the migration's default.
    app.state
        .store
        .run(|conn| {
            diesel::insert_into(clients::table)
                .values((
                    clients::client_id.eq("legacy"),
                    clients::name.eq("Legacy"),
                    clients::confidential.eq(true),
                    clients::redirect_uris.eq("[]"),
                    clients::post_logout_redirect_uris.eq("[]"),
                    clients::grant_types.eq(r#"["client_credentials"]"#),
                    clients::scopes.eq("[]"),
                    clients::token_endpoint_auth_method.eq("client_secret_basic"),
                    clients::created_at.eq(1),
                    clients::updated_at.eq(1),
                    clients::instance.eq("legacy-1"),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(!registered_requires_mfa(&app, "legacy").await);
}

#[tokio::test]
async fn admin_api_sets_and_changes_require_mfa() {
    // Read the table on every lookup, so the cache shows each change at once.
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.client_cache = std::time::Duration::ZERO;
    })
    .await;
    let token = admin_token(&app).await;
    let (status, created) = admin(
        &app,
        &token,
        reqwest::Method::POST,
        "/admin/v1/clients",
        Some(json!({ "client_id": "web", "client_name": "Web",
                     "redirect_uris": ["https://app.example/cb"], "require_mfa": true })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["require_mfa"], true);
    assert!(registered_requires_mfa(&app, "web").await);

    // Other changes leave it as it is.
    let (status, renamed) = admin(
        &app,
        &token,
        reqwest::Method::PATCH,
        "/admin/v1/clients/web",
        Some(json!({ "client_name": "Web app" })),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["require_mfa"], true);

    let (status, off) = admin(
        &app,
        &token,
        reqwest::Method::PATCH,
        "/admin/v1/clients/web",
        Some(json!({ "require_mfa": false })),
    )
    .await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["require_mfa"], false);
    assert!(!registered_requires_mfa(&app, "web").await);
    let (_, listed) = admin(
        &app,
        &token,
        reqwest::Method::GET,
        "/admin/v1/clients",
        None,
    )
    .await;
    let web = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "web")
        .unwrap();
    assert_eq!(web["require_mfa"], false);

    // The audit row of the change shows it, before and after.
    let updates = client_updates(&app, "web").await;
    let last = updates.last().unwrap();
    assert_eq!(last["before"]["require_mfa"], true, "{last}");
    assert_eq!(last["after"]["require_mfa"], false, "{last}");

    // Strict JSON, as for every field: the wrong type and a misspelling are 400s that
    // name the field, and nothing changes.
    for (body, field) in [
        (json!({ "require_mfa": "yes" }), "require_mfa"),
        (json!({ "require_mfa": 1 }), "require_mfa"),
        (json!({ "requireMfa": true }), "requireMfa"),
    ] {
        let (status, err) = admin(
            &app,
            &token,
            reqwest::Method::PATCH,
            "/admin/v1/clients/web",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert!(err.to_string().contains(field), "{body}: {err}");
    }
    let (status, err) = admin(
        &app,
        &token,
        reqwest::Method::POST,
        "/admin/v1/clients",
        Some(json!({ "client_name": "Bad", "require_mfa": "true" })),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("require_mfa"), "{err}");
    assert!(!registered_requires_mfa(&app, "web").await);
}

#[tokio::test]
async fn cli_sets_and_changes_require_mfa() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.client_cache = std::time::Duration::ZERO;
    })
    .await;
    let db = &app.db;
    let created = cli(
        db,
        &[
            "client",
            "create",
            "--client-id",
            "svc",
            "--name",
            "Svc",
            "--require-mfa",
        ],
    )
    .await
    .unwrap();
    assert_eq!(created["require_mfa"], true);
    assert!(registered_requires_mfa(&app, "svc").await);

    let explicit_off = cli(
        db,
        &[
            "client",
            "create",
            "--client-id",
            "svc2",
            "--name",
            "Svc",
            "--require-mfa=false",
        ],
    )
    .await
    .unwrap();
    assert_eq!(explicit_off["require_mfa"], false);

    // `--require-mfa=false`, `--require-mfa true` and a bare `--require-mfa` on update;
    // without the flag it stays.
    for (args, expected) in [
        (&["--require-mfa=false"][..], false),
        (&["--name", "Renamed"][..], false),
        (&["--require-mfa", "true"][..], true),
        (&["--require-mfa=false"][..], false),
        (&["--require-mfa"][..], true),
        (&["--first-party", "true"][..], true),
    ] {
        let mut all = vec!["client", "update", "svc"];
        all.extend_from_slice(args);
        let shown = cli(db, &all).await.unwrap();
        assert_eq!(shown["require_mfa"], expected, "{args:?}");
        assert_eq!(
            registered_requires_mfa(&app, "svc").await,
            expected,
            "{args:?}"
        );
    }
    let shown = cli(db, &["client", "show", "svc"]).await.unwrap();
    assert_eq!(shown["require_mfa"], true);

    // Only true or false, and the command changes nothing.
    let err = cli(db, &["client", "update", "svc", "--require-mfa=maybe"])
        .await
        .unwrap_err();
    assert!(err.contains("--require-mfa"), "{err}");
    let err = cli(db, &["client", "update", "--require-mfa", "svc"])
        .await
        .unwrap_err();
    assert!(err.contains("--require-mfa"), "{err}");
    assert!(registered_requires_mfa(&app, "svc").await);

    // The text output lists it with the other settings.
    let out = crate::cli::run(db, &["client", "show", "svc"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("require_mfa:") && l.trim_end().ends_with("true")),
        "{text}"
    );

    // The change went through the audited write like any other.
    let updates = client_updates(&app, "svc").await;
    assert_eq!(updates.len(), 6);
    assert_eq!(updates[0]["before"]["require_mfa"], true);
    assert_eq!(updates[0]["after"]["require_mfa"], false);
}

#[tokio::test]
async fn export_and_import_carry_require_mfa() {
    let source = spawn_app().await;
    source
        .confidential_client("strict")
        .redirect_uris(&["https://strict.example/cb"])
        .require_mfa()
        .await;
    source.confidential_client("relaxed").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    cli(&source.db, &["export", "--dir", &d]).await.unwrap();

    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("clients.json")).unwrap())
            .unwrap();
    let by_id = |id: &str| {
        file.as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("strict")["require_mfa"], true);
    assert_eq!(by_id("relaxed")["require_mfa"], false);

    // Into the other backend when the suite has Postgres, else another SQLite file.
    let target_db = Arc::new(if source.db.is_postgres() {
        TestDb::sqlite()
    } else {
        TestDb::postgres().unwrap_or_else(TestDb::sqlite)
    });
    let report = cli(&target_db, &["import", "--dir", &d]).await.unwrap();
    assert_eq!(report["clients_created"], 2, "{report}");
    let target = spawn_app_with(Arc::clone(&target_db), |_| {}).await;
    assert!(registered_requires_mfa(&target, "strict").await);
    assert!(!registered_requires_mfa(&target, "relaxed").await);
    assert_eq!(view(&target, "strict").await, view(&source, "strict").await);

    // An import that changes only require_mfa updates the client, audited.
    let mut changed = file.clone();
    for client in changed.as_array_mut().unwrap() {
        if client["client_id"] == "relaxed" {
            client["require_mfa"] = json!(true);
        }
    }
    std::fs::write(
        dir.path().join("clients.json"),
        serde_json::to_string_pretty(&changed).unwrap(),
    )
    .unwrap();
    let report = cli(&target_db, &["import", "--dir", &d]).await.unwrap();
    assert_eq!(
        (
            report["clients_updated"].clone(),
            report["clients_unchanged"].clone()
        ),
        (json!(1), json!(1)),
        "{report}"
    );
    let relaxed = view(&target, "relaxed").await;
    assert_eq!(relaxed["require_mfa"], true);

    // A file from before the field existed: every client imports as not required.
    let mut old = file.clone();
    for client in old.as_array_mut().unwrap() {
        client.as_object_mut().unwrap().remove("require_mfa");
    }
    std::fs::write(
        dir.path().join("clients.json"),
        serde_json::to_string_pretty(&old).unwrap(),
    )
    .unwrap();
    let fresh_db = Arc::new(TestDb::new());
    let report = cli(&fresh_db, &["import", "--dir", &d]).await.unwrap();
    assert_eq!(report["clients_created"], 2, "{report}");
    let fresh = spawn_app_with(Arc::clone(&fresh_db), |_| {}).await;
    for id in ["strict", "relaxed"] {
        assert!(!registered_requires_mfa(&fresh, id).await, "{id}");
    }
    // A value of the wrong type is refused, naming where it is.
    let mut bad = file;
    bad[0]["require_mfa"] = json!("yes");
    std::fs::write(
        dir.path().join("clients.json"),
        serde_json::to_string_pretty(&bad).unwrap(),
    )
    .unwrap();
    let err = cli(&fresh_db, &["import", "--dir", &d]).await.unwrap_err();
    assert!(err.contains("require_mfa"), "{err}");
}

#[tokio::test]
async fn openapi_documents_require_mfa() {
    let app = spawn_app().await;
    let doc: Value = app
        .get_admin("/admin/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, kind) in [
        ("ClientCreate", json!("boolean")),
        // `null`, as for the other fields of a patch, leaves it as it is.
        ("ClientPatch", json!(["boolean", "null"])),
        ("ClientView", json!("boolean")),
    ] {
        assert_eq!(
            schemas[schema]["properties"]["require_mfa"]["type"], kind,
            "{schema}: {}",
            schemas[schema]
        );
    }
    // Optional on create (default false) and on update; always in what is shown.
    let required = |schema: &str| {
        schemas[schema]["required"]
            .as_array()
            .map(|r| r.iter().any(|f| f == "require_mfa"))
            .unwrap_or(false)
    };
    assert!(!required("ClientCreate"));
    assert!(!required("ClientPatch"));
    assert!(required("ClientView"));
}

/// `mfa.required_roles` refuses what can never be a role, by the rule roles are given by.
#[test]
fn required_roles_follow_the_rule_roles_are_given_by() {
    for name in [
        "admin",
        "ops:read",
        "a-b_c.d",
        "Admin",
        " admin",
        "a b",
        "",
        "é",
        &"r".repeat(64),
        &"r".repeat(65),
    ] {
        assert_eq!(
            portcullis::config::is_role_name(name),
            portcullis::manage::validate_role(name).is_ok(),
            "{name:?}"
        );
    }
}
