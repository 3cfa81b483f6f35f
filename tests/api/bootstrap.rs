//! The first `admin`'s password stays out of logs (issue 19 item 8): the real `serve`
//! binary, its standard output a pipe as under systemd or a container runtime.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::{base_command, ok_json};
use crate::helpers::{PATIENCE, POLL, TestApp, TestClient, TestDb, no_mfa_roles, spawn_app_with};

const FILE_NAME: &str = "bootstrap-admin-password";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn password_file(db: &TestDb) -> PathBuf {
    db.dir.path().join("data").join(FILE_NAME)
}

/// `serve` with stdout and stderr piped, once its healthcheck answers.
fn serve_until_ready(db: &TestDb, env: &[(&str, &str)]) -> Child {
    let (http, admin) = (free_port(), free_port());
    let mut cmd = base_command(db);
    cmd.env("PORTCULLIS_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let out = base_command(db)
            .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
            .arg("healthcheck")
            .output()
            .unwrap();
        if out.status.success() {
            return child;
        }
        if let Some(exit) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve exited ({exit:?}) before it was ready: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(Instant::now() < deadline, "serve never became ready");
        std::thread::sleep(POLL);
    }
}

/// Stops `serve` with SIGTERM; everything it wrote on stdout and stderr (the log).
fn stop(child: Child) -> (String, String) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "clean exit: {:?}", out.status);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `serve` that must fail before it listens: its stderr.
fn serve_fails(db: &TestDb, env: &[(&str, &str)]) -> String {
    let mut cmd = base_command(db);
    cmd.env("PORTCULLIS_HTTP__BIND", "127.0.0.1:0")
        .env("PORTCULLIS_ADMIN__BIND", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.arg("serve").stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success(), "serve should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The password grant as `admin` with `password` through an in-process server on the same
/// database: the status (200 when the password is the admin's).
async fn admin_signs_in(app: &TestApp, client: &TestClient, password: &str) -> u16 {
    let form = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", password),
    ];
    app.token_request(client, &form).await.0
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn generated_bootstrap_password_goes_to_a_private_file_never_to_the_log() {
    let db = Arc::new(TestDb::new());
    let child = serve_until_ready(&db, &[("PORTCULLIS_LOG__FORMAT", "json")]);
    let (stdout, logs) = stop(child);

    let file = password_file(&db);
    assert_eq!(mode(&file), 0o600, "readable by the service account only");
    let text = std::fs::read_to_string(&file).unwrap();
    let password = text.strip_suffix('\n').unwrap();
    assert!(password.len() >= 20, "a generated password");
    assert!(!stdout.contains(password), "stdout: {stdout}");
    assert!(!logs.contains(password), "the log: {logs}");
    // The log says where the password is.
    assert!(
        logs.contains(&file.display().to_string()),
        "the file is named in the log: {logs}"
    );

    let app = spawn_app_with(Arc::clone(&db), no_mfa_roles).await;
    let client = app.confidential_client("web").grants(&["password"]).await;
    assert_eq!(admin_signs_in(&app, &client, password).await, 200);
    assert_eq!(
        admin_signs_in(&app, &client, "not the password at all").await,
        400
    );
}

#[tokio::test]
async fn an_old_bootstrap_password_file_is_never_overwritten() {
    let db = TestDb::new();
    let file = password_file(&db);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "unread password\n").unwrap();
    let err = serve_fails(&db, &[]);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "unread password\n");
    // No admin whose password nobody could read.
    let users = ok_json(&db, &["user", "list"], None);
    assert_eq!(users, serde_json::json!([]), "{users}");
}

#[tokio::test]
async fn supplied_bootstrap_password_file_is_used_and_no_file_is_written() {
    let db = Arc::new(TestDb::new());
    let supplied = db.dir.path().join("supplied-password");
    // One trailing newline, as `echo` writes it, is not part of the password.
    std::fs::write(&supplied, "operator chose this one\n").unwrap();
    let child = serve_until_ready(
        &db,
        &[(
            "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE",
            supplied.to_str().unwrap(),
        )],
    );
    let (stdout, logs) = stop(child);
    assert!(!password_file(&db).exists(), "nothing generated");
    assert!(!stdout.contains("operator chose this one"), "{stdout}");
    assert!(!logs.contains("operator chose this one"), "{logs}");

    let app = spawn_app_with(Arc::clone(&db), no_mfa_roles).await;
    let client = app.confidential_client("web").grants(&["password"]).await;
    assert_eq!(
        admin_signs_in(&app, &client, "operator chose this one").await,
        200
    );
    assert_eq!(
        admin_signs_in(&app, &client, "operator chose this one\n").await,
        400
    );
}

#[test]
fn a_missing_empty_or_weak_supplied_password_file_stops_serve() {
    let db = TestDb::new();
    let missing = db.dir.path().join("no-such-file");
    let err = serve_fails(
        &db,
        &[(
            "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE",
            missing.to_str().unwrap(),
        )],
    );
    assert!(
        err.contains("bootstrap_admin_password_file")
            && err.contains(&missing.display().to_string()),
        "{err}"
    );

    let empty = db.dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let err = serve_fails(
        &db,
        &[(
            "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE",
            empty.to_str().unwrap(),
        )],
    );
    assert!(err.contains("empty"), "{err}");

    let weak = db.dir.path().join("weak");
    std::fs::write(&weak, "short7!").unwrap();
    let err = serve_fails(
        &db,
        &[(
            "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE",
            weak.to_str().unwrap(),
        )],
    );
    assert!(err.contains("at least 8"), "{err}");
    assert!(
        !err.contains("short7!"),
        "the password is not echoed: {err}"
    );
    assert!(!password_file(&db).exists());
}

/// The variable is a configuration key like any other: `config check` shows the path,
/// never what the file holds.
#[test]
fn config_check_shows_the_bootstrap_password_file_not_the_password() {
    let db = TestDb::new();
    let supplied = db.dir.path().join("supplied-password");
    std::fs::write(&supplied, "operator chose this one\n").unwrap();
    let out = base_command(&db)
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE", &supplied)
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("operator chose this one"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["config"]["bootstrap_admin_password_file"],
        supplied.to_str().unwrap()
    );
}
