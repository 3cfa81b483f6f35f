use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::helpers::{PATIENCE, POLL, TestDb, eventually_blocking};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

pub(crate) fn base_command(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    // Only what the test sets: the developer's own PORTCULLIS_* must not leak in.
    cmd.env_clear()
        .current_dir(db.dir.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_KEYS__MASTER_KEYS", &db.master_key)
        .env("PORTCULLIS_DATABASE__URL", &db.url)
        .env("PORTCULLIS_DATA_DIR", db.dir.path().join("data"))
        // Cheaper argon2 keeps the suite quick; the defaults are tested in config.rs.
        .env("PORTCULLIS_PASSWORD__MEMORY_KIB", "8192")
        .env("PORTCULLIS_PASSWORD__ITERATIONS", "1");
    cmd
}

pub(crate) fn run(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = base_command(db);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn portcullis");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn ok_json(db: &TestDb, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(db, &all, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub(crate) fn fails(db: &TestDb, args: &[&str]) -> String {
    let out = run(db, args, None);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn user_commands_end_to_end() {
    let db = TestDb::new();
    let created = ok_json(
        &db,
        &[
            "user",
            "create",
            "Alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice A",
            "--role",
            "operator",
        ],
        None,
    );
    assert_eq!(created["username"], "alice");
    assert_eq!(created["roles"], serde_json::json!(["operator"]));
    let password = created["password"].as_str().unwrap();
    assert!(password.len() >= 20);
    assert!(created.get("password_hash").is_none());

    let err = fails(&db, &["user", "create", "ALICE"]);
    assert!(err.contains("already exists"), "{err}");

    let with_stdin = ok_json(
        &db,
        &["user", "create", "bob", "--password-stdin"],
        Some("a long enough password\n"),
    );
    assert!(
        with_stdin.get("password").is_none(),
        "no generated password"
    );

    let err = {
        let out = run(
            &db,
            &["user", "create", "carol", "--password-stdin"],
            Some("short\n"),
        );
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(err.contains("password"), "{err}");

    let list = ok_json(&db, &["user", "list"], None);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["alice", "bob"]);

    let searched = ok_json(&db, &["user", "list", "--search", "example.com"], None);
    assert_eq!(searched.as_array().unwrap().len(), 1);

    let shown = ok_json(&db, &["user", "show", "ALICE"], None);
    assert_eq!(shown["email"], "alice@example.com");

    assert_eq!(
        ok_json(&db, &["user", "disable", "alice"], None)["disabled"],
        true
    );
    assert_eq!(
        ok_json(&db, &["user", "enable", "alice"], None)["disabled"],
        false
    );
    let roles = ok_json(&db, &["user", "add-role", "alice", "auditor"], None);
    assert_eq!(roles["roles"], serde_json::json!(["auditor", "operator"]));
    let roles = ok_json(&db, &["user", "remove-role", "alice", "operator"], None);
    assert_eq!(roles["roles"], serde_json::json!(["auditor"]));
    let err = fails(&db, &["user", "add-role", "alice", "Bad Role"]);
    assert!(err.contains("role"), "{err}");

    let changed = ok_json(&db, &["user", "set-password", "alice"], None);
    assert!(changed["password"].as_str().unwrap().len() >= 20);

    ok_json(&db, &["user", "delete", "bob"], None);
    let err = fails(&db, &["user", "show", "bob"]);
    assert!(err.contains("not found"), "{err}");

    // Human output works too.
    let out = run(&db, &["user", "show", "alice"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("username:       alice"));
}

#[test]
fn client_commands_end_to_end() {
    let db = TestDb::new();
    let created = ok_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "Web App",
            "--client-id",
            "web",
            "--redirect-uri",
            "https://app.example.com/callback",
            "--post-logout-redirect-uri",
            "https://app.example.com/",
            "--scope",
            "openid profile",
            "--scope",
            "email",
            "--first-party",
        ],
        None,
    );
    assert_eq!(created["client_id"], "web");
    assert_eq!(created["confidential"], true);
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(created["scope"], "email openid profile");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("pcs_") && secret.len() >= 47,
        "256-bit secret"
    );

    // The secret is in no column of the database.
    let shown = ok_json(&db, &["client", "show", "web"], None);
    assert!(shown.get("client_secret").is_none());
    assert!(!shown.to_string().contains(&secret));
    if let Some(path) = db.sqlite_path() {
        let bytes = std::fs::read(&path).unwrap();
        let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
        for haystack in [&bytes, &wal] {
            assert!(
                !haystack
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes())
            );
        }
    }

    let public = ok_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:5173/cb",
        ],
        None,
    );
    assert_eq!(public["client_secret"], serde_json::Value::Null);
    assert_eq!(public["token_endpoint_auth_method"], "none");

    let service = ok_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "Worker",
            "--client-id",
            "worker",
            "--grant",
            "client_credentials",
            "--scope",
            "api:read",
            "--role",
            "introspector",
        ],
        None,
    );
    assert_eq!(service["roles"], serde_json::json!(["introspector"]));

    for (uri, why) in [
        ("https://app.example.com/cb#x", "fragment"),
        ("javascript:alert(1)", "javascript"),
        ("http://app.example.com/cb", "http"),
    ] {
        let err = fails(
            &db,
            &[
                "client",
                "create",
                "--name",
                "Bad",
                "--client-id",
                "bad",
                "--redirect-uri",
                uri,
            ],
        );
        assert!(
            err.contains("redirect_uris") && err.contains(why),
            "{uri}: {err}"
        );
    }
    let err = fails(
        &db,
        &[
            "client",
            "create",
            "--name",
            "Dup",
            "--client-id",
            "web",
            "--grant",
            "client_credentials",
        ],
    );
    assert!(err.contains("already exists"), "{err}");
    let list = ok_json(&db, &["client", "list"], None);
    assert_eq!(
        list.as_array().unwrap().len(),
        3,
        "failed creates wrote nothing"
    );

    let updated = ok_json(
        &db,
        &[
            "client",
            "update",
            "web",
            "--name",
            "Web",
            "--redirect-uri",
            "https://app.example.com/cb2",
            "--disable",
        ],
        None,
    );
    assert_eq!(updated["client_name"], "Web");
    assert_eq!(
        updated["redirect_uris"],
        serde_json::json!(["https://app.example.com/cb2"])
    );
    assert_eq!(updated["disabled"], true);
    let err = fails(
        &db,
        &[
            "client",
            "update",
            "web",
            "--redirect-uri",
            "data:text/html,x",
        ],
    );
    assert!(err.contains("redirect_uris"), "{err}");

    let rotated = ok_json(&db, &["client", "rotate-secret", "web"], None);
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);
    let err = fails(
        &db,
        &[
            "client",
            "rotate-secret",
            public["client_id"].as_str().unwrap(),
        ],
    );
    assert!(err.contains("public"), "{err}");

    ok_json(&db, &["client", "delete", "web"], None);
    let err = fails(&db, &["client", "show", "web"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn migrate_then_nothing_pending() {
    let db = TestDb::new();
    let first = ok_json(&db, &["migrate"], None);
    assert!(!first["applied"].as_array().unwrap().is_empty());
    let second = ok_json(&db, &["migrate"], None);
    assert!(second["applied"].as_array().unwrap().is_empty());
}

#[test]
fn config_check_redacts_and_bad_config_fails() {
    let db = TestDb::new();
    let mut cmd = base_command(&db);
    let out = cmd
        .env(
            "PORTCULLIS_DATABASE__URL",
            "postgres://app:hunter2@db.internal/auth",
        )
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("hunter2"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["config"]["database"]["backend"], "postgres");

    // The text form is TOML: settings that are not set (no logo, say) are left out, and it
    // is never empty.
    let out = base_command(&db)
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("configuration is valid\n"), "{stdout}");
    let shown: toml::Value = toml::from_str(
        stdout
            .strip_prefix("configuration is valid\n")
            .unwrap_or_default(),
    )
    .unwrap();
    assert!(shown.get("issuer").is_some(), "{stdout}");

    let err = fails(&db, &["--database-url", "mysql://x/y", "config", "check"]);
    assert!(
        err.contains("database.url") && err.contains("command-line flag"),
        "{err}"
    );

    let out = base_command(&db)
        .env("PORTCULLIS_HTTP__BIND", "nonsense")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORTCULLIS_HTTP__BIND"));
}

#[test]
fn unreachable_database_is_a_clear_error() {
    let db = TestDb::new();
    let out = base_command(&db)
        .env(
            "PORTCULLIS_DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/nothing",
        )
        .env("PORTCULLIS_DATABASE__CONNECT_TIMEOUT_SECS", "2")
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_bootstraps_an_admin_answers_healthcheck_and_stops_on_sigterm() {
    let db = TestDb::new();
    let (http, admin) = (free_port(), free_port());
    let mut child = base_command(&db)
        .env("PORTCULLIS_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
        .env("PORTCULLIS_LOG__FORMAT", "json")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Keep draining stdout as a supervisor would.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let printed =
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).collect::<Vec<_>>());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let out = base_command(&db)
            .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
            .arg("healthcheck")
            .output()
            .unwrap();
        if out.status.success() {
            break;
        }
        if Instant::now() > deadline {
            let exited = child.try_wait().unwrap();
            let _ = child.kill();
            let mut logs = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
            panic!(
                "server never became ready (exited: {exited:?}); healthcheck said {} {}; logs:\n{logs}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(POLL);
    }

    // A request whose query string must never reach the log.
    {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
        write!(
            conn,
            "GET /.well-known/openid-configuration?probe=query-secret-123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    // The bootstrap admin exists with the admin role. Standard output is a pipe, so its
    // password is in a file of the data directory (tests/api/bootstrap.rs says more).
    let shown = ok_json(&db, &["user", "show", "admin"], None);
    assert_eq!(shown["roles"], serde_json::json!(["admin"]));
    let password = std::fs::read_to_string(db.dir.path().join("data/bootstrap-admin-password"))
        .expect("bootstrap password written to the data directory");
    let password = password.trim_end().to_owned();
    assert!(password.len() >= 20);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = eventually_blocking("the server to stop on SIGTERM", || {
        child.try_wait().unwrap()
    });
    assert!(exit.success(), "clean exit: {exit:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(
        !logs.contains(&password),
        "the bootstrap password is never logged"
    );
    let printed = printed.join().unwrap().join("\n");
    assert!(
        !printed.contains(&password),
        "nor printed to a pipe: {printed}"
    );
    assert!(logs.contains("portcullis is listening"), "{logs}");
    // Lines are written in batches; stopping writes the last one.
    assert!(logs.contains("portcullis stopped"), "{logs}");
    // JSON log lines.
    let first = logs.lines().find(|l| l.contains("listening")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(parsed["level"], "INFO");
    // One access line per request, inside a span with the request's id, method and path,
    // never its query string.
    assert!(!logs.contains("query-secret-123"), "{logs}");
    let access: serde_json::Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["route"] == "/.well-known/openid-configuration")
        .unwrap_or_else(|| panic!("no access line: {logs}"));
    assert_eq!(access["message"], "request");
    assert_eq!(access["status"], 200);
    assert!(access["elapsed_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(access["span"]["method"], "GET");
    assert_eq!(access["span"]["path"], "/.well-known/openid-configuration");
    let request_id = access["span"]["request_id"].as_str().unwrap();
    assert!(request_id.len() > 17, "{request_id}");

    // A second start creates no second admin and prints no password.
    let healthcheck_down = base_command(&db)
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(
        !healthcheck_down.status.success(),
        "healthcheck fails when nothing listens"
    );
}

#[test]
fn keys_commands_end_to_end() {
    let db = TestDb::new();
    let listed = ok_json(&db, &["keys", "list"], None);
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 1, "the first key is created on first use");
    assert_eq!(keys[0]["status"], "active");
    let first = keys[0]["kid"].as_str().unwrap().to_owned();

    // A safe rotation publishes now and signs after two JWKS max-ages.
    let rotated = ok_json(&db, &["keys", "rotate"], None);
    assert_eq!(rotated["switched"], false);
    let pending = rotated["next_kid"].as_str().unwrap().to_owned();
    let listed = ok_json(&db, &["keys", "list"], None);
    let status_of = |kid: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of(&pending).as_deref(), Some("pending"));
    let created = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == pending.as_str())
        .unwrap()["created_at"]
        .as_i64()
        .unwrap();
    assert_eq!(rotated["signs_from"].as_i64().unwrap(), created + 1800);

    // Retiring a pending key deletes it.
    ok_json(&db, &["keys", "retire", &pending], None);
    let listed = ok_json(&db, &["keys", "list"], None);
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // An emergency rotation switches at once and retires the old key.
    let now = ok_json(&db, &["keys", "rotate", "--immediately"], None);
    assert_eq!(now["switched"], true);
    let listed = ok_json(&db, &["keys", "list"], None);
    let statuses: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(first.clone(), "retired".into())),
        "{statuses:?}"
    );
    assert!(statuses.contains(&(
        now["next_kid"].as_str().unwrap().to_owned(),
        "active".into()
    )));
    let err = fails(&db, &["keys", "retire", &first]);
    assert!(err.contains("already retired"), "{err}");
    let err = fails(&db, &["keys", "retire", "no-such-kid"]);
    assert!(err.contains("signing key not found"), "{err}");

    // Rewrap under a new first master key, then the old key can be dropped.
    let new_key = portcullis::crypto::key_material::MasterKey::generate()
        .unwrap()
        .to_base64()
        .to_string();
    let both = format!("{new_key},{}", db.master_key);
    let out = base_command(&db)
        .env("PORTCULLIS_KEYS__MASTER_KEYS", &both)
        .args(["--json", "keys", "rewrap"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rewrapped"], 2);
    let out = base_command(&db)
        .env("PORTCULLIS_KEYS__MASTER_KEYS", &new_key)
        .args(["keys", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The old master key alone no longer opens them: a clear error, no data touched.
    let out = run(&db, &["keys", "list"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"));
}
