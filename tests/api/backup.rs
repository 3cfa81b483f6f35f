//! Backup, restore and migrations an operator can undo (issue 23, item 7): `portcullis
//! backup` copies a live SQLite database; Postgres is backed up with pg_dump; the restore
//! drill brings a wiped database back and the tokens issued before still verify and
//! refresh; `migrate status` and `migrate revert`; every migration's down.sql undoes its
//! up.sql exactly, on both backends.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};
use portcullis::store::migrate;
use portcullis::store::{DatabaseUrl, DbConnection};
use serde_json::Value;

use crate::cli::{base_command, fails, ok_json};
use crate::helpers::{
    Backend, TestApp, TestClient, TestDb, access_token, no_mfa_roles, post_with_basic,
    refresh_token, spawn_app_with,
};

fn connect(db: &TestDb) -> DbConnection {
    let url = DatabaseUrl::parse(&db.url).unwrap();
    portcullis::store::conn::establish(&url, Duration::from_secs(5)).unwrap()
}

async fn introspect(app: &TestApp, rs: &TestClient, token: &str) -> Value {
    let r = post_with_basic(app, "/introspect", &[("token", token)], rs.basic()).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn stop(app: TestApp) {
    app.shutdown.shutdown();
    app.server.await.unwrap().unwrap();
    // Dropping the state closes the pool: nothing holds the old database open.
    drop(app.state);
}

fn zero_drain(c: &mut portcullis::config::Config) {
    no_mfa_roles(c);
    c.shutdown_delay = Duration::ZERO;
}

/// Back up while the server runs, wipe the database, restore from the file: a server
/// started on it accepts the tokens issued before the backup (signing keys, grants and
/// refresh tokens came back) and knows nothing written after it. On SQLite with
/// `portcullis backup`, on Postgres with pg_dump and pg_restore as docs/backup.md says.
#[tokio::test]
async fn restore_drill_tokens_survive_backup_wipe_restore() {
    let db = Arc::new(TestDb::new());
    let app = spawn_app_with(Arc::clone(&db), zero_drain).await;
    let rs = app
        .confidential_client("rs")
        .grants(&["client_credentials"])
        .scope("api:read")
        .roles(&["introspector", "refresh_introspector"])
        .await;
    let web = app
        .confidential_client("web")
        .grants(&["password", "refresh_token"])
        .scope("openid offline_access api:read")
        .first_party()
        .await;
    let alice = app.user("alice").await;
    let signed_in = app
        .password_tokens(&web, &alice, Some("openid offline_access api:read"))
        .await;
    let user_access = access_token(&signed_in);
    let user_refresh = refresh_token(&signed_in);
    let service_access = app.cc_token(&rs, Some("api:read")).await;
    for token in [&user_access, &user_refresh, &service_access] {
        assert_eq!(introspect(&app, &rs, token).await["active"], true);
    }

    let file = db.dir.path().join("backups").join("portcullis.backup");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    match db.backend() {
        Backend::Sqlite => {
            // Online: the server above is running and holds its pool open.
            let made = ok_json(&db, &["backup", "--to", file.to_str().unwrap()], None);
            assert_eq!(made["backup"], file.to_str().unwrap());
            assert!(made["bytes"].as_u64().unwrap() > 0);
        }
        Backend::Postgres => {
            let err = fails(&db, &["backup", "--to", file.to_str().unwrap()]);
            assert!(
                err.contains("pg_dump") && err.contains("docs/backup.md"),
                "{err}"
            );
            assert!(!file.exists());
            pg_tool("pg_dump", &["--format=custom", "--file"], &file, &db.url);
        }
    }
    // Written after the backup: the restored database must not know it.
    app.user("bob").await;
    // The restored server is the same issuer (tokens name it), on a new port.
    let issuer = app.state.config.issuer.clone();
    stop(app).await;

    wipe(&db);
    // Wiped for real: an empty database has no user.
    assert!(
        database_is_empty(&db),
        "the database still has tables after the wipe"
    );

    match db.backend() {
        Backend::Sqlite => std::fs::copy(&file, db.sqlite_path().unwrap())
            .map(drop)
            .unwrap(),
        Backend::Postgres => pg_tool(
            "pg_restore",
            &["--no-owner", "--exit-on-error", "--dbname", &db.url],
            &file,
            "",
        ),
    }

    let app = spawn_app_with(Arc::clone(&db), move |c| {
        zero_drain(c);
        c.issuer = issuer;
    })
    .await;
    let users = ok_json(&db, &["user", "list"], None);
    let names: BTreeSet<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains("alice"), "{names:?}");
    assert!(
        !names.contains("bob"),
        "written after the backup: {names:?}"
    );
    // The tokens verify (JWT signatures with the restored keys) and introspect active.
    for (what, token) in [
        ("the user's access token", &user_access),
        ("the user's refresh token", &user_refresh),
        ("the service's access token", &service_access),
    ] {
        let answer = introspect(&app, &rs, token).await;
        assert_eq!(answer["active"], true, "{what}: {answer}");
    }
    // Refresh still works, and rotates as ever.
    let refreshed = app
        .tokens(
            &web,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &user_refresh),
            ],
        )
        .await;
    let new_refresh = refresh_token(&refreshed);
    assert_ne!(new_refresh, user_refresh);
    assert_eq!(
        introspect(&app, &rs, &access_token(&refreshed)).await["active"],
        true
    );
    assert_eq!(introspect(&app, &rs, &user_refresh).await["active"], false);
    // A new token is signed with the restored key: the same kid as before.
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_eq!(kid(&access_token(&refreshed)), kid(&user_access));
    stop(app).await;
}

/// Runs pg_dump (`file` last, after `args`, then `url`) or pg_restore (`url` in `args`,
/// `file` last) and fails the test with its message when it fails.
fn pg_tool(tool: &str, args: &[&str], file: &Path, url: &str) {
    let mut cmd = Command::new(tool);
    cmd.args(args).arg(file);
    if !url.is_empty() {
        cmd.arg(url);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{tool} (postgresql-client) must be installed: {e}"));
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What an operator who lost the database has: SQLite without its file (and WAL), Postgres
/// with an empty `public` schema.
fn wipe(db: &TestDb) {
    match db.sqlite_path() {
        Some(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
        None => {
            let mut conn = PgConnection::establish(&db.url).unwrap();
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
            )
            .unwrap();
        }
    }
}

fn database_is_empty(db: &TestDb) -> bool {
    match db.sqlite_path() {
        Some(path) => !path.exists(),
        None => schema_of(&mut connect(db)).is_empty(),
    }
}

#[test]
fn backup_refuses_to_overwrite_unless_forced() {
    let db = TestDb::sqlite();
    ok_json(&db, &["migrate"], None);
    ok_json(&db, &["user", "create", "alice"], None);
    let file = db.dir.path().join("copy.db");
    let to = file.to_str().unwrap();
    ok_json(&db, &["backup", "--to", to], None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the copy holds password hashes");
    }
    let first = std::fs::read(&file).unwrap();

    ok_json(&db, &["user", "create", "bob"], None);
    let err = fails(&db, &["backup", "--to", to]);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), first, "left as it was");

    ok_json(&db, &["backup", "--to", to, "--force"], None);
    assert_ne!(std::fs::read(&file).unwrap(), first, "replaced");
    // No half-written files left beside it.
    let names: Vec<String> = std::fs::read_dir(db.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");

    // The copy is a database the CLI can read: bob is in the second one.
    let out = base_command(&db)
        .env(
            "PORTCULLIS_DATABASE__URL",
            format!("sqlite://{}", file.display()),
        )
        .args(["--json", "user", "show", "bob"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A database that is not there is an error, not an empty backup.
    let missing = TestDb::sqlite();
    let err = fails(
        &missing,
        &[
            "backup",
            "--to",
            missing.dir.path().join("x.db").to_str().unwrap(),
        ],
    );
    assert!(err.contains("no database"), "{err}");
    assert!(!missing.sqlite_path().unwrap().exists());
}

#[test]
fn migrate_status_and_revert_on_the_command_line() {
    let db = TestDb::new();
    let before = ok_json(&db, &["migrate", "status"], None);
    let all = before["migrations"].as_array().unwrap().len();
    assert!(all > 10);
    assert_eq!(before["pending"], all);

    ok_json(&db, &["migrate"], None);
    let status = ok_json(&db, &["migrate", "status"], None);
    assert_eq!(status["pending"], 0);
    let migrations = status["migrations"].as_array().unwrap();
    assert!(migrations.iter().all(|m| m["applied"] == true));
    let newest = migrations.last().unwrap().clone();

    // Without the confirmation nothing happens.
    let err = fails(&db, &["migrate", "revert"]);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(ok_json(&db, &["migrate", "status"], None)["pending"], 0);

    let reverted = ok_json(&db, &["migrate", "revert", "--yes"], None);
    assert_eq!(reverted["reverted"], newest["version"]);
    let status = ok_json(&db, &["migrate", "status"], None);
    assert_eq!(status["pending"], 1);
    let last = status["migrations"].as_array().unwrap().last().unwrap();
    assert_eq!(last["name"], newest["name"]);
    assert_eq!(last["applied"], false);
    // The text form names it.
    let out = crate::cli::run(&db, &["migrate", "status"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("pending   {}", newest["name"].as_str().unwrap())),
        "{text}"
    );

    let applied = ok_json(&db, &["migrate"], None);
    assert_eq!(applied["applied"], serde_json::json!([newest["version"]]));
    assert_eq!(ok_json(&db, &["migrate", "status"], None)["pending"], 0);
}

/// The schema as (kind, table, what) rows, independent of how it was written: columns with
/// type, nullability and default, indexes with their columns, constraints (Postgres).
/// diesel's own bookkeeping table is left out.
fn schema_of(conn: &mut DbConnection) -> BTreeSet<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let lines = |rows: Vec<Row>| rows.into_iter().map(|r| r.line).collect::<BTreeSet<_>>();
    match conn {
        DbConnection::Sqlite(c) => {
            #[derive(QueryableByName)]
            struct Table {
                #[diesel(sql_type = Text)]
                name: String,
            }
            let tables: Vec<Table> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            let mut out = BTreeSet::new();
            for t in tables {
                #[derive(QueryableByName)]
                struct Col {
                    #[diesel(sql_type = Text)]
                    name: String,
                    #[diesel(sql_type = Text)]
                    r#type: String,
                    #[diesel(sql_type = Integer)]
                    notnull: i32,
                    #[diesel(sql_type = Nullable<Text>)]
                    dflt_value: Option<String>,
                    #[diesel(sql_type = Integer)]
                    pk: i32,
                }
                let cols: Vec<Col> = diesel::sql_query(
                    "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)",
                )
                .bind::<Text, _>(&t.name)
                .load(c)
                .unwrap();
                for col in cols {
                    out.insert(format!(
                        "column {}.{} {} notnull={} default={:?} pk={}",
                        t.name,
                        col.name,
                        col.r#type.to_uppercase(),
                        col.notnull,
                        col.dflt_value,
                        col.pk
                    ));
                }
                let indexes: Vec<Row> = diesel::sql_query(
                    "SELECT 'index ' || ? || ' unique=' || il.\"unique\" || ' ' || il.origin \
                     || ' (' || (SELECT group_concat(name, ',') FROM \
                     (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) || ')' \
                     || CASE WHEN il.partial = 1 THEN ' partial' ELSE '' END AS line \
                     FROM pragma_index_list(?) AS il",
                )
                .bind::<Text, _>(&t.name)
                .bind::<Text, _>(&t.name)
                .load(c)
                .unwrap();
                out.extend(lines(indexes));
                let fks: Vec<Row> = diesel::sql_query(
                    "SELECT 'fk ' || ? || '.' || \"from\" || ' -> ' || \"table\" || '.' || \
                     coalesce(\"to\", '?') || ' on delete ' || on_delete AS line \
                     FROM pragma_foreign_key_list(?)",
                )
                .bind::<Text, _>(&t.name)
                .bind::<Text, _>(&t.name)
                .load(c)
                .unwrap();
                out.extend(lines(fks));
            }
            out
        }
        DbConnection::Postgres(c) => {
            let columns: Vec<Row> = diesel::sql_query(
                "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || \
                 ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '-') \
                 AS line FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name != '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            let indexes: Vec<Row> = diesel::sql_query(
                "SELECT 'index ' || indexdef AS line FROM pg_indexes \
                 WHERE schemaname = 'public' AND tablename != '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            let constraints: Vec<Row> = diesel::sql_query(
                "SELECT 'constraint ' || cl.relname || ' ' || co.conname || ' ' || \
                 pg_get_constraintdef(co.oid) AS line FROM pg_constraint co \
                 JOIN pg_class cl ON cl.oid = co.conrelid \
                 JOIN pg_namespace n ON n.oid = cl.relnamespace \
                 WHERE n.nspname = 'public' AND cl.relname != '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            let functions: Vec<Row> = diesel::sql_query(
                "SELECT 'function ' || p.proname AS line FROM pg_proc p \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
            )
            .load(c)
            .unwrap();
            let mut out = lines(columns);
            out.extend(lines(indexes));
            out.extend(lines(constraints));
            out.extend(lines(functions));
            out
        }
    }
}

/// Applies the migrations one at a time, noting the schema before each; then reverts them
/// one at a time (`migrate revert`'s function) and checks that each down.sql leaves exactly
/// the schema its up.sql found; then applies them all again.
#[test]
fn every_down_sql_undoes_its_up_sql() {
    let db = TestDb::new();
    let mut conn = connect(&db);
    let versions: Vec<String> = migrate::status(&mut conn)
        .unwrap()
        .into_iter()
        .map(|m| m.version)
        .collect();
    assert!(versions.len() > 10);
    let mut before = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        before.push(schema_of(&mut conn));
        let applied = match versions.get(i + 1) {
            Some(next) => migrate::run_pending_before(&mut conn, next).unwrap(),
            None => migrate::run_pending(&mut conn).unwrap(),
        };
        assert_eq!(applied, vec![version.clone()]);
        assert_ne!(
            schema_of(&mut conn),
            *before.last().unwrap(),
            "{version} changed nothing the snapshot sees"
        );
    }
    let full = schema_of(&mut conn);
    for (version, expected) in versions.iter().zip(&before).rev() {
        let reverted = migrate::revert_last(&mut conn).unwrap();
        assert_eq!(reverted.as_deref(), Some(version.as_str()));
        let now = schema_of(&mut conn);
        let extra: Vec<_> = now.difference(expected).collect();
        let lost: Vec<_> = expected.difference(&now).collect();
        assert!(
            extra.is_empty() && lost.is_empty(),
            "down.sql of {version} on {}: left behind {extra:#?}, lost {lost:#?}",
            db.backend().name()
        );
    }
    assert!(schema_of(&mut conn).is_empty());
    assert_eq!(migrate::revert_last(&mut conn).unwrap(), None);
    assert_eq!(migrate::run_pending(&mut conn).unwrap(), versions);
    assert_eq!(schema_of(&mut conn), full);
}
