//! `portcullis export` / `portcullis import`: the round trip between backends (SQLite ->
//! Postgres when PORTCULLIS_TEST_DATABASE_URL is set), credentials only on request,
//! all-or-nothing, idempotent, and never a signing key.

use std::path::Path;
use std::sync::Arc;

use diesel::prelude::*;
use portcullis::manage::Actor;
use portcullis::store::schema::{clients, users};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::helpers::{PASSWORD, TestApp, TestDb, no_mfa_roles, spawn_app_with};

/// Users alice (admin, with a password), bob (disabled) and clients svc (a confidential
/// service account), spa (public) and web (confidential, authorization code). Returns
/// svc's secret.
async fn seed(app: &TestApp) -> String {
    app.user("alice")
        .email("alice@example.com")
        .full_name("Alice")
        .roles(&["admin", "operator"])
        .await;
    app.user("bob").generated_password().await;
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "bob", true)
        .await
        .unwrap();
    let svc = app
        .confidential_client("svc")
        .name("Service")
        .grants(&["client_credentials"])
        .scope("api")
        .roles(&["operator"])
        .with(|c| c.access_token_lifetime = Some(600))
        .await;
    app.public_client("spa")
        .name("SPA")
        .redirect_uris(&["http://127.0.0.1:5173/cb"])
        .await;
    app.confidential_client("web")
        .name("Web")
        .redirect_uris(&["https://app.example/cb"])
        .post_logout_redirect_uris(&["https://app.example/bye"])
        .first_party()
        .await;
    svc.secret().to_owned()
}

fn run_cli(db: &Arc<TestDb>, args: &[&str]) -> std::process::Output {
    crate::cli::run(db, args, None)
}

async fn cli(db: &Arc<TestDb>, args: &[&str]) -> Result<Value, String> {
    let db = Arc::clone(db);
    let mut all = vec!["--json".to_owned()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = run_cli(&db, &args);
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    })
    .await
    .unwrap()
}

async fn counts(app: &TestApp) -> (i64, i64, i64) {
    let (users, clients) = app
        .state
        .store
        .run(|conn| {
            Ok((
                users::table.count().get_result(conn)?,
                clients::table.count().get_result(conn)?,
            ))
        })
        .await
        .unwrap();
    (users, clients, app.audit_count(None).await)
}

/// Users and clients as operators see them, but for each client's `last_used_at`: that is
/// what each server saw of it, and a test that checks a moved secret uses the client on
/// one server only.
async fn everything(app: &TestApp) -> (Value, Value) {
    let svc = &app.state.service;
    let mut clients = serde_json::to_value(svc.list_clients().await.unwrap()).unwrap();
    for client in clients.as_array_mut().unwrap() {
        client.as_object_mut().unwrap().remove("last_used_at");
    }
    (
        serde_json::to_value(svc.list_users(None, 0, 1000).await.unwrap()).unwrap(),
        clients,
    )
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.http
        .post(format!("{}/token", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .basic_auth(id, Some(secret))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn arg(dir: &Path) -> String {
    dir.display().to_string()
}

#[tokio::test]
async fn round_trip_between_backends_with_credentials() {
    let source_db = Arc::new(TestDb::sqlite());
    let source = spawn_app_with(Arc::clone(&source_db), |_| {}).await;
    let secret = seed(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let d = arg(dir.path());

    let manifest = cli(
        &source_db,
        &["export", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap();
    assert_eq!(manifest["format"], "portcullis-export");
    assert_eq!(manifest["version"], 1);
    assert_eq!(
        (manifest["users"].clone(), manifest["clients"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(manifest["include_credentials"], true);

    // Three files, owner-only, and nothing of the signing keys in them.
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["clients.json", "manifest.json", "users.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("users.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "credentials must not be world-readable");
    }
    let all_text = files
        .iter()
        .map(|f| read(dir.path(), f))
        .collect::<String>();
    for key in source.state.keys.current().keys() {
        assert!(!all_text.contains(&key.kid), "a signing key was exported");
    }
    assert!(!all_text.contains("sealed"));
    assert!(read(dir.path(), "users.json").contains("$argon2id$"));
    assert!(read(dir.path(), "clients.json").contains("client_secret_digest"));

    // Into the other backend (Postgres when the suite has one).
    let target_db = Arc::new(TestDb::postgres().unwrap_or_else(TestDb::sqlite));
    let report = cli(
        &target_db,
        &["import", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap();
    assert_eq!(
        report,
        json!({
            "users_created": 2, "users_updated": 0, "users_unchanged": 0,
            "clients_created": 3, "clients_updated": 0, "clients_unchanged": 0,
            "credentials_skipped": false,
        })
    );
    let target = spawn_app_with(Arc::clone(&target_db), |_| {}).await;
    assert_eq!(everything(&target).await, everything(&source).await);

    // The credentials came along: alice logs in, svc authenticates with its secret.
    let alice = target
        .state
        .service
        .authenticate("alice", Zeroizing::new(PASSWORD.into()))
        .await
        .unwrap();
    assert_eq!(alice.unwrap().roles, ["admin", "operator"]);
    assert_eq!(client_credentials(&target, "svc", &secret).await, 200);
    // The target signs with keys of its own.
    let source_kids: Vec<String> = source
        .state
        .keys
        .current()
        .keys()
        .iter()
        .map(|k| k.kid.clone())
        .collect();
    assert!(
        target
            .state
            .keys
            .current()
            .keys()
            .iter()
            .all(|k| !source_kids.contains(&k.kid))
    );

    // Idempotent: the same files again change nothing but add the import's own audit row.
    let before = counts(&target).await;
    let again = cli(
        &target_db,
        &["import", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap();
    assert_eq!(
        (
            again["users_unchanged"].clone(),
            again["clients_unchanged"].clone()
        ),
        (json!(2), json!(3))
    );
    assert_eq!(
        (
            again["users_updated"].clone(),
            again["clients_updated"].clone()
        ),
        (json!(0), json!(0))
    );
    let after = counts(&target).await;
    assert_eq!(
        (after.0, after.1, after.2),
        (before.0, before.1, before.2 + 1)
    );
    assert_eq!(everything(&target).await, everything(&source).await);

    // Each imported object is an audit row with its state, never a credential.
    let imported = target
        .state
        .service
        .query_audit(
            portcullis::store::models::audit::AuditFilter {
                event_type: Some("user.imported".into()),
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(imported.len(), 2);
    let text = serde_json::to_string(&imported).unwrap();
    assert!(!text.contains("$argon2"));
    let verified = target.state.service.verify_audit().await.unwrap();
    assert!(verified.intact, "{verified:?}");
}

#[tokio::test]
async fn credentials_travel_only_when_asked() {
    let source_db = Arc::new(TestDb::sqlite());
    let source = spawn_app_with(Arc::clone(&source_db), |_| {}).await;
    let secret = seed(&source).await;
    let plain = tempfile::tempdir().unwrap();
    cli(&source_db, &["export", "--dir", &arg(plain.path())])
        .await
        .unwrap();
    for file in ["users.json", "clients.json"] {
        let text = read(plain.path(), file);
        assert!(
            !text.contains("password_hash") && !text.contains("$argon2"),
            "{file}"
        );
        assert!(!text.contains("client_secret_digest"), "{file}");
    }

    // Imported without credentials: the accounts exist but nobody can log in yet.
    let target_db = Arc::new(TestDb::new());
    cli(
        &target_db,
        &[
            "import",
            "--dir",
            &arg(plain.path()),
            "--include-credentials",
        ],
    )
    .await
    .unwrap();
    // No client cache: a changed secret is seen by the next request.
    let target = spawn_app_with(Arc::clone(&target_db), |c| {
        c.tokens.client_cache = std::time::Duration::ZERO;
    })
    .await;
    let svc = &target.state.service;
    assert!(
        svc.authenticate("alice", Zeroizing::new(PASSWORD.into()))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(client_credentials(&target, "svc", &secret).await, 401);
    // ...until an operator sets a password and a secret.
    svc.set_password(&Actor::cli(), "alice", Zeroizing::new(PASSWORD.into()))
        .await
        .unwrap();
    assert!(
        svc.authenticate("alice", Zeroizing::new(PASSWORD.into()))
            .await
            .unwrap()
            .is_some()
    );
    let new_secret = svc
        .rotate_client_secret(&Actor::cli(), "svc")
        .await
        .unwrap();
    assert_eq!(
        client_credentials(&target, "svc", new_secret.expose()).await,
        200
    );

    // An export with credentials imported without the flag: they are skipped, and what
    // the target holds stays as it is.
    let full = tempfile::tempdir().unwrap();
    cli(
        &source_db,
        &[
            "export",
            "--dir",
            &arg(full.path()),
            "--include-credentials",
        ],
    )
    .await
    .unwrap();
    let report = cli(&target_db, &["import", "--dir", &arg(full.path())])
        .await
        .unwrap();
    assert_eq!(report["credentials_skipped"], true);
    assert_eq!(
        client_credentials(&target, "svc", new_secret.expose()).await,
        200
    );
    assert_eq!(client_credentials(&target, "svc", &secret).await, 401);
    // With the flag, the source's credentials replace them.
    let report = cli(
        &target_db,
        &[
            "import",
            "--dir",
            &arg(full.path()),
            "--include-credentials",
        ],
    )
    .await
    .unwrap();
    // svc's and web's secrets, alice's and bob's password hashes.
    assert_eq!(report["clients_updated"], 2, "{report}");
    assert_eq!(report["users_updated"], 2, "{report}");
    assert_eq!(client_credentials(&target, "svc", &secret).await, 200);
}

fn edit(dir: &Path, file: &str, change: impl FnOnce(&mut Value)) {
    let path = dir.join(file);
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut value);
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

#[tokio::test]
async fn import_is_all_or_nothing() {
    let source_db = Arc::new(TestDb::sqlite());
    let source = spawn_app_with(Arc::clone(&source_db), |_| {}).await;
    seed(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let d = arg(dir.path());
    cli(&source_db, &["export", "--dir", &d]).await.unwrap();

    let target_db = Arc::new(TestDb::new());
    let target = spawn_app_with(Arc::clone(&target_db), |_| {}).await;
    let empty = counts(&target).await;

    // One bad client among good ones (it comes last): nothing at all is written.
    edit(dir.path(), "clients.json", |v| {
        let last = v.as_array_mut().unwrap().last_mut().unwrap();
        last["redirect_uris"] = json!(["javascript:alert(1)"]);
    });
    let err = cli(&target_db, &["import", "--dir", &d]).await.unwrap_err();
    assert!(
        err.contains("redirect_uris") && err.contains("web"),
        "{err}"
    );
    assert_eq!(counts(&target).await, empty);

    // An unknown field: the error names the file and the path.
    cli(&source_db, &["export", "--dir", &d]).await.unwrap();
    edit(dir.path(), "users.json", |v| {
        v[1]["colour"] = json!("red");
    });
    let err = cli(&target_db, &["import", "--dir", &d]).await.unwrap_err();
    assert!(
        err.contains("users.json") && err.contains("colour"),
        "{err}"
    );
    assert_eq!(counts(&target).await, empty);

    // A username another user (with another id) holds here: refused, nothing written,
    // not even the users before it in the file.
    cli(&source_db, &["export", "--dir", &d]).await.unwrap();
    target.user("bob").generated_password().await;
    let with_bob = counts(&target).await;
    let err = cli(&target_db, &["import", "--dir", &d]).await.unwrap_err();
    assert!(err.contains("username"), "{err}");
    assert_eq!(counts(&target).await, with_bob);

    // The same object twice in a file.
    edit(dir.path(), "clients.json", |v| {
        let first = v[0].clone();
        v.as_array_mut().unwrap().push(first);
    });
    let err = cli(&target_db, &["import", "--dir", &d]).await.unwrap_err();
    assert!(err.contains("more than once"), "{err}");

    // An import that would leave no enabled admin is refused as a whole.
    let source_dir = tempfile::tempdir().unwrap();
    let sd = arg(source_dir.path());
    cli(&source_db, &["export", "--dir", &sd]).await.unwrap();
    cli(&source_db, &["import", "--dir", &sd]).await.unwrap();
    edit(source_dir.path(), "users.json", |v| {
        for u in v.as_array_mut().unwrap() {
            u["roles"] = json!([]);
            u["name"] = json!("changed");
        }
    });
    let before = counts(&source).await;
    let err = cli(&source_db, &["import", "--dir", &sd])
        .await
        .unwrap_err();
    assert!(err.contains("no enabled admin"), "{err}");
    assert_eq!(counts(&source).await, before);
    let alice = source.state.service.get_user("alice").await.unwrap();
    assert_eq!(
        (alice.name.as_deref(), alice.roles.len()),
        (Some("Alice"), 2)
    );
}

/// Exports the seeded users with their hashes, for a test to give alice another hash.
async fn exported_with_credentials() -> (tempfile::TempDir, TestApp) {
    let source_db = Arc::new(TestDb::sqlite());
    let source = spawn_app_with(Arc::clone(&source_db), |_| {}).await;
    seed(&source).await;
    let dir = tempfile::tempdir().unwrap();
    cli(
        &source_db,
        &["export", "--dir", &arg(dir.path()), "--include-credentials"],
    )
    .await
    .unwrap();
    (dir, source)
}

fn set_alice_hash(dir: &Path, hash: &str) {
    edit(dir, "users.json", |v| {
        for u in v.as_array_mut().unwrap() {
            if u["username"] == "alice" {
                u["password_hash"] = json!(hash);
            }
        }
    });
}

/// A client that may use the password grant.
async fn password_client(app: &TestApp) -> crate::helpers::TestClient {
    app.confidential_client("pw")
        .grants(&["password"])
        .scope("api")
        .await
}

/// The password grant for alice: the status.
async fn alice_signs_in(app: &TestApp, client: &crate::helpers::TestClient, password: &str) -> u16 {
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", password),
    ];
    app.token_request(client, &form).await.0
}

#[tokio::test]
async fn bcrypt_costs_outside_4_to_14_are_refused_on_import() {
    let (dir, _source) = exported_with_credentials().await;
    let d = arg(dir.path());
    let target_db = Arc::new(TestDb::new());
    let target = spawn_app_with(Arc::clone(&target_db), no_mfa_roles).await;
    let empty = counts(&target).await;
    let real = bcrypt::hash("imported secret", 4).unwrap();
    assert!(real.starts_with("$2b$04$"));

    // Costs below 4 cannot be computed; above 14 every sign-in of the user would cost
    // seconds (31: days). Refused by name, and nothing at all is written.
    for cost in [3, 15, 20, 31] {
        set_alice_hash(
            dir.path(),
            &real.replacen("$04$", &format!("${cost:02}$"), 1),
        );
        let err = cli(
            &target_db,
            &["import", "--dir", &d, "--include-credentials"],
        )
        .await
        .unwrap_err();
        assert!(
            err.contains("password_hash")
                && err.contains(&format!("bcrypt cost {cost} is outside 4 to 14")),
            "{err}"
        );
        assert_eq!(counts(&target).await, empty, "cost {cost}");
    }
    set_alice_hash(dir.path(), "$2b$04$not-a-bcrypt-hash");
    let err = cli(
        &target_db,
        &["import", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap_err();
    assert!(err.contains("not a well-formed bcrypt hash"), "{err}");
    assert_eq!(counts(&target).await, empty);

    // The bounds themselves are taken; a real cost-4 hash then signs alice in.
    set_alice_hash(dir.path(), &real.replacen("$04$", "$14$", 1));
    cli(
        &target_db,
        &["import", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap();
    set_alice_hash(dir.path(), &real);
    cli(
        &target_db,
        &["import", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap();
    let client = password_client(&target).await;
    assert_eq!(
        alice_signs_in(&target, &client, "imported secret").await,
        200
    );
}

#[tokio::test]
async fn a_password_longer_than_72_bytes_never_matches_a_bcrypt_hash() {
    let (dir, _source) = exported_with_credentials().await;
    let d = arg(dir.path());
    let target_db = Arc::new(TestDb::new());
    let target = spawn_app_with(Arc::clone(&target_db), no_mfa_roles).await;
    let first_72 = "correct horse battery staple, and then some more words to fill it up!!!!";
    assert_eq!(first_72.len(), 72);
    let hash = bcrypt::hash(first_72, 4).unwrap();
    let longer = format!("{first_72} and a tail bcrypt never reads");
    // bcrypt itself compares the first 72 bytes only: the longer password would pass.
    assert!(bcrypt::verify(&longer, &hash).unwrap());
    set_alice_hash(dir.path(), &hash);
    cli(
        &target_db,
        &["import", "--dir", &d, "--include-credentials"],
    )
    .await
    .unwrap();

    let client = password_client(&target).await;
    for password in [longer.as_str(), &format!("{first_72}x")] {
        assert_eq!(
            alice_signs_in(&target, &client, password).await,
            400,
            "{password}"
        );
    }
    // The 72 bytes themselves are the password, and it works (and is upgraded).
    assert_eq!(alice_signs_in(&target, &client, first_72).await, 200);
    assert_eq!(alice_signs_in(&target, &client, &longer).await, 400);
}
