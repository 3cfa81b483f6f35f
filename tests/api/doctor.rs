//! `portcullis doctor` and `GET /admin/v1/doctor` (issue 23, item 8): a clean deployment
//! has no high finding, each check fires on a deployment made unsafe on purpose (one test
//! per check), the API and the CLI report the same findings, the CLI's exit status gates
//! a deployment (2 on a high finding), and only the auditor and admin roles may read the
//! report. On both backends; the SQLite replica check fires on SQLite only and must stay
//! quiet on Postgres.

use std::process::Output;
use std::sync::Arc;

use portcullis::config::{Bucket, Config};
use portcullis::crypto::key_material::{MasterKey, MasterKeys};
use serde_json::Value;

use crate::cli::run;
use crate::helpers::{
    Backend, PASSWORD, TestApp, TestDb, eventually, no_mfa_roles, spawn_app, spawn_app_with,
};

/// An access token with the `admin` scope for a new service account holding `role`.
async fn token_for(app: &TestApp, role: &str) -> String {
    let id = format!("doctor-{role}-{}", uuid::Uuid::new_v4().simple());
    let account = app
        .confidential_client(&id)
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&[role])
        .await;
    app.cc_token(&account, Some("admin")).await
}

async fn api_status(app: &TestApp, token: Option<&str>) -> (u16, Value) {
    let mut req = app.http.get(format!("{}/admin/v1/doctor", app.admin));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The server's report, read as an auditor.
async fn api_report(app: &TestApp) -> Value {
    let token = token_for(app, "auditor").await;
    let (status, body) = api_status(app, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings")
}

/// The findings with this id, as (severity, subject).
fn with_id(report: &Value, id: &str) -> Vec<(String, Option<String>)> {
    findings(report)
        .iter()
        .filter(|f| f["id"] == id)
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_owned(),
                f["subject"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn highs(report: &Value) -> Vec<&Value> {
    findings(report)
        .iter()
        .filter(|f| f["severity"] == "high")
        .collect()
}

/// Asserts that the report holds finding `id` with `severity` about `subject`, and that
/// its words name no secret we know of.
fn assert_finding(report: &Value, id: &str, severity: &str, subject: Option<&str>) {
    let found = with_id(report, id);
    assert!(
        found.contains(&(severity.to_owned(), subject.map(str::to_owned))),
        "expected {id} ({severity}, {subject:?}); got {found:?} in {report:#}"
    );
    let text = report.to_string();
    assert!(!text.contains(PASSWORD), "a password in the report");
}

async fn sql(app: &TestApp, statement: impl Into<String>) {
    use diesel::connection::SimpleConnection;
    let statement = statement.into();
    app.state
        .store
        .run(move |conn| Ok(conn.batch_execute(&statement)?))
        .await
        .unwrap();
}

/// Waits for the server's janitor to have run once (it runs at start, on its own task).
async fn janitor_ran(app: &TestApp) {
    let store = app.state.store.clone();
    eventually("the janitor's first run", async || {
        let store = store.clone();
        store
            .run(|conn| {
                portcullis::store::models::doctor::lease_expiry(
                    conn,
                    portcullis::store::models::keys::JANITOR_LEASE,
                )
            })
            .await
            .unwrap()
    })
    .await;
}

/// `portcullis doctor ARGS` on the app's database, with the app's issuer.
async fn cli_doctor(app: &TestApp, args: &[&str]) -> Output {
    let db = app.db.clone();
    let mut all = vec!["doctor".to_owned(), "--issuer".to_owned(), app.base.clone()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        run(&db, &args, None)
    })
    .await
    .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test]
async fn a_clean_default_deployment_has_no_high_finding() {
    let app = spawn_app().await;
    janitor_ran(&app).await;
    let report = api_report(&app).await;
    assert!(highs(&report).is_empty(), "{report:#}");
    assert_eq!(report["vantage"], "server");
    assert_eq!(report["counts"]["high"], 0);
    // What a development setup is, said once and not as a fault.
    assert_finding(&report, "issuer.development", "info", None);
    assert!(
        with_id(&report, "janitor.never_ran").is_empty(),
        "{report:#}"
    );
    assert!(report["audit_check_ms"].is_u64());

    let out = cli_doctor(&app, &["--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let cli = json_of(&out);
    assert!(highs(&cli).is_empty(), "{cli:#}");
    assert_eq!(cli["vantage"], "cli");
}

// One test per check: the deployment made unsafe on purpose, and the finding it gives.

#[tokio::test]
async fn issuer_plain_http_fires_when_the_listener_leaves_loopback() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.http_bind = "0.0.0.0:8080".parse().unwrap();
    })
    .await;
    let report = api_report(&app).await;
    assert_finding(&report, "issuer.plain_http", "high", None);
    assert!(with_id(&report, "issuer.development").is_empty());
}

#[tokio::test]
async fn forwarded_headers_without_a_trusted_proxy_fire() {
    let app = spawn_app().await;
    let before = api_report(&app).await;
    assert!(
        with_id(&before, "proxy.none_trusted").is_empty(),
        "{before:#}"
    );
    // What a reverse proxy nobody listed sends.
    for _ in 0..3 {
        app.http
            .get(app.url("/.well-known/openid-configuration"))
            .header("X-Forwarded-For", "203.0.113.7")
            .send()
            .await
            .unwrap();
    }
    let report = api_report(&app).await;
    assert_finding(&report, "proxy.none_trusted", "high", None);
    let f = findings(&report)
        .iter()
        .find(|f| f["id"] == "proxy.none_trusted")
        .unwrap();
    assert!(
        f["found"].as_str().unwrap().starts_with("3 request(s)"),
        "{f}"
    );
}

#[tokio::test]
async fn forwarded_headers_from_a_peer_not_listed_fire() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.proxy.trusted_proxies = vec!["10.1.2.3".parse().unwrap()];
    })
    .await;
    app.http
        .get(app.url("/.well-known/openid-configuration"))
        .header("Forwarded", "for=203.0.113.7")
        .send()
        .await
        .unwrap();
    let report = api_report(&app).await;
    assert_finding(&report, "proxy.untrusted_peer", "medium", None);
    assert!(with_id(&report, "proxy.none_trusted").is_empty());
}

#[tokio::test]
async fn clients_allowed_the_password_grant_fire() {
    let app = spawn_app().await;
    app.confidential_client("legacy")
        .grants(&["password"])
        .await;
    app.public_client("spa")
        .grants(&["authorization_code"])
        .redirect_uris(&["https://app.example.com/cb"])
        .await;
    // A public client cannot be given the grant through manage: written around it.
    sql(
        &app,
        "UPDATE clients SET grant_types = '[\"password\"]' WHERE client_id = 'spa'",
    )
    .await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "clients.password_grant",
        "medium",
        Some("client:legacy"),
    );
    assert_finding(
        &report,
        "clients.password_grant",
        "high",
        Some("client:spa"),
    );
}

#[tokio::test]
async fn clients_without_pkce_required_fire() {
    let app = spawn_app().await;
    app.confidential_client("old-web").require_pkce(false).await;
    app.public_client("app")
        .grants(&["authorization_code"])
        .redirect_uris(&["https://app.example.com/cb"])
        .await;
    sql(
        &app,
        "UPDATE clients SET require_pkce = false WHERE client_id = 'app'",
    )
    .await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "clients.pkce_not_required",
        "medium",
        Some("client:old-web"),
    );
    assert_finding(
        &report,
        "clients.pkce_not_required",
        "high",
        Some("client:app"),
    );
}

#[tokio::test]
async fn redirect_uris_with_wildcards_fire() {
    let app = spawn_app().await;
    app.confidential_client("wild").await;
    app.confidential_client("wild-logout").await;
    sql(
        &app,
        "UPDATE clients SET redirect_uris = '[\"https://*.example.com/cb\"]' \
         WHERE client_id = 'wild'; \
         UPDATE clients SET post_logout_redirect_uris = '[\"https://app.example.com/bye/*\"]' \
         WHERE client_id = 'wild-logout'",
    )
    .await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "clients.redirect_uri_wildcard",
        "high",
        Some("client:wild"),
    );
    assert_finding(
        &report,
        "clients.redirect_uri_wildcard",
        "high",
        Some("client:wild-logout"),
    );
}

#[tokio::test]
async fn redirect_uris_on_plain_http_off_loopback_fire() {
    let app = spawn_app().await;
    app.confidential_client("plain").await;
    app.confidential_client("loopback")
        .redirect_uris(&["http://127.0.0.1:9999/cb"])
        .await;
    sql(
        &app,
        "UPDATE clients SET redirect_uris = '[\"http://app.example.com/cb\"]' \
         WHERE client_id = 'plain'",
    )
    .await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "clients.redirect_uri_http",
        "high",
        Some("client:plain"),
    );
    assert!(
        !with_id(&report, "clients.redirect_uri_http")
            .iter()
            .any(|(_, s)| s.as_deref() == Some("client:loopback")),
        "RFC 8252 loopback redirects are fine"
    );
}

#[tokio::test]
async fn an_admin_without_a_second_factor_fires() {
    let app = spawn_app().await;
    app.user("root").roles(&["admin"]).await;
    app.user("reader").await;
    let report = api_report(&app).await;
    // The default policy will ask them to enrol: medium.
    assert_finding(
        &report,
        "users.admin_without_second_factor",
        "medium",
        Some("user:root"),
    );
    assert!(
        !report.to_string().contains("user:reader"),
        "a user without a required role is not named"
    );

    // Without the policy nothing makes them: high, and the policy is named too.
    let app = spawn_app_with(Arc::new(TestDb::new()), no_mfa_roles).await;
    app.user("root").roles(&["admin"]).await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "users.admin_without_second_factor",
        "high",
        Some("user:root"),
    );
    assert_finding(&report, "mfa.admin_not_required", "medium", None);
}

#[tokio::test]
async fn a_required_role_without_a_second_factor_fires_until_one_is_enrolled() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.mfa.required_roles = vec!["admin".into(), "staff".into()];
    })
    .await;
    let staff = app.user("sam").roles(&["staff"]).await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "users.role_without_second_factor",
        "medium",
        Some("user:sam"),
    );
    // With an authenticator app enrolled, nothing is said about them.
    app.state
        .service
        .enroll_user_totp(&portcullis::manage::Actor::cli(), &staff.id, &app.state.mfa)
        .await
        .unwrap();
    let report = api_report(&app).await;
    assert!(!report.to_string().contains("user:sam"), "{report:#}");
}

#[tokio::test]
async fn a_signing_key_overdue_for_rotation_fires() {
    let app = spawn_app().await;
    let kid = app.state.keys.current().active_kid().unwrap().to_owned();
    let period = app.state.config.keys.rotation_period;
    let reload = i64::try_from(app.state.config.keys.reload_interval.as_secs()).unwrap();
    app.clock.advance(period + 3 * reload);
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "keys.rotation_overdue",
        "medium",
        Some(&format!("key:{kid}")),
    );
}

#[tokio::test]
async fn a_single_master_key_older_than_a_year_fires() {
    let app = spawn_app().await;
    let report = api_report(&app).await;
    assert!(with_id(&report, "keys.master_key_old").is_empty());
    app.clock.advance(366 * 86_400);
    let report = api_report(&app).await;
    assert_finding(&report, "keys.master_key_old", "medium", None);
}

#[tokio::test]
async fn a_master_key_whose_age_cannot_be_known_is_said_so() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c: &mut Config| {
        let own = MasterKey::generate().unwrap();
        c.keys.audit_keys = Some(Arc::new(MasterKeys::from(own)));
    })
    .await;
    let report = api_report(&app).await;
    assert_finding(&report, "keys.master_key_age_unknown", "info", None);
    assert!(with_id(&report, "keys.master_key_old").is_empty());
}

#[tokio::test]
async fn a_broken_audit_chain_fires() {
    let app = spawn_app().await;
    app.user("someone").await;
    let report = api_report(&app).await;
    assert!(
        with_id(&report, "audit.chain_broken").is_empty(),
        "{report:#}"
    );
    sql(
        &app,
        "UPDATE audit_events SET details = '{\"rewritten\":true}' \
         WHERE seq = (SELECT MIN(seq) + 1 FROM audit_events)",
    )
    .await;
    let report = api_report(&app).await;
    assert_finding(&report, "audit.chain_broken", "high", None);
}

#[tokio::test]
async fn a_stalled_janitor_fires() {
    let app = spawn_app().await;
    janitor_ran(&app).await;
    let interval = i64::try_from(app.state.config.janitor.interval.as_secs()).unwrap();
    app.clock.advance(10 * interval);
    let report = api_report(&app).await;
    assert_finding(&report, "janitor.stalled", "medium", None);
}

#[tokio::test]
async fn several_servers_on_one_sqlite_database_fire_and_postgres_is_quiet() {
    let db = Arc::new(TestDb::new());
    let first = spawn_app_with(Arc::clone(&db), |_| {}).await;
    let second = spawn_app_with(Arc::clone(&db), |_| {}).await;
    let store = first.state.store.clone();
    let now = portcullis::clock::Clock::now(&first.clock);
    eventually("both servers' presence", async || {
        let store = store.clone();
        let live = store
            .run(move |conn| portcullis::store::models::keys::live_replicas(conn, now))
            .await
            .unwrap();
        (live >= 2).then_some(())
    })
    .await;
    let report = api_report(&second).await;
    match db.backend() {
        Backend::Sqlite => assert_finding(&report, "database.sqlite_replicas", "high", None),
        Backend::Postgres => {
            assert!(
                with_id(&report, "database.sqlite_replicas").is_empty(),
                "{report:#}"
            )
        }
    }
}

#[tokio::test]
async fn rate_limits_switched_off_fire() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.rate_limit.endpoints.insert(
            "login",
            Bucket {
                per_second: 0,
                burst: 0,
            },
        );
        c.rate_limit.client_auth_failures = Bucket {
            per_second: 0,
            burst: 0,
        };
    })
    .await;
    let report = api_report(&app).await;
    assert_finding(
        &report,
        "rate_limit.off",
        "medium",
        Some("rate_limit:login"),
    );
    assert_finding(
        &report,
        "rate_limit.off",
        "medium",
        Some("rate_limit:client_auth_failures"),
    );
    assert!(!report.to_string().contains("rate_limit:token"));
}

#[tokio::test]
async fn the_api_and_the_cli_report_the_same_findings() {
    let app = spawn_app().await;
    janitor_ran(&app).await;
    app.confidential_client("legacy")
        .grants(&["password"])
        .require_pkce(false)
        .await;
    app.confidential_client("wild").await;
    sql(
        &app,
        "UPDATE clients SET redirect_uris = '[\"https://*.example.com/cb\"]' \
         WHERE client_id = 'wild'",
    )
    .await;
    app.user("root").roles(&["admin"]).await;
    let api = api_report(&app).await;
    let out = cli_doctor(&app, &["--format", "json"]).await;
    assert_eq!(out.status.code(), Some(2), "a high finding: {out:?}");
    let cli = json_of(&out);
    // The one difference: a separate process cannot see request headers, and says so.
    assert_finding(&cli, "proxy.unobserved", "info", None);
    let comparable = |report: &Value| -> Vec<Value> {
        findings(report)
            .iter()
            .filter(|f| f["id"] != "proxy.unobserved")
            // The auditor's own service account, made for the API call, is no finding.
            .cloned()
            .collect()
    };
    assert_eq!(comparable(&api), comparable(&cli));
    assert!(!highs(&api).is_empty());
    // `--json` chooses the same output as `--format json`.
    let again = json_of(&cli_doctor(&app, &["--json"]).await);
    assert_eq!(comparable(&again), comparable(&cli));
}

#[tokio::test]
async fn the_cli_exits_2_on_a_high_finding_and_0_otherwise() {
    let db = Arc::new(TestDb::new());
    let fresh = {
        let db = Arc::clone(&db);
        tokio::task::spawn_blocking(move || run(&db, &["doctor"], None))
            .await
            .unwrap()
    };
    assert_eq!(fresh.status.code(), Some(0), "{fresh:?}");
    let text = String::from_utf8_lossy(&fresh.stdout);
    // A table, and what a database no server has run on yet looks like.
    assert!(text.contains("severity  id"), "{text}");
    assert!(text.contains("proxy.unobserved"), "{text}");
    assert!(text.contains("janitor.never_ran"), "{text}");
    assert!(text.contains("keys.none_active"), "{text}");
    assert!(text.contains("0 high"), "{text}");

    let exposed = {
        let db = Arc::clone(&db);
        tokio::task::spawn_blocking(move || {
            run(&db, &["doctor", "--http-bind", "0.0.0.0:8080"], None)
        })
        .await
        .unwrap()
    };
    assert_eq!(exposed.status.code(), Some(2), "{exposed:?}");
    let text = String::from_utf8_lossy(&exposed.stdout);
    assert!(text.contains("issuer.plain_http"), "{text}");
    assert!(text.contains("exit status 2"), "{text}");
}

#[tokio::test]
async fn auditors_and_admins_read_the_report_and_others_get_403() {
    let app = spawn_app().await;
    for role in ["auditor", "admin"] {
        let token = token_for(&app, role).await;
        let (status, body) = api_status(&app, Some(&token)).await;
        assert_eq!(status, 200, "{role}: {body}");
        assert!(body["findings"].is_array());
    }
    for role in ["operator", "staff"] {
        let token = token_for(&app, role).await;
        let (status, _) = api_status(&app, Some(&token)).await;
        assert_eq!(status, 403, "{role}");
    }
    let (status, _) = api_status(&app, None).await;
    assert_eq!(status, 401);
}

/// What the audit check costs: 100,000 events, then the doctor's walk over them. Run by
/// hand (`cargo test --test api doctor::audit_check_cost -- --ignored --nocapture`); the
/// figure is in docs/doctor.md.
#[tokio::test]
#[ignore = "a measurement, not a check: slow to set up"]
async fn audit_check_cost_on_100k_events() {
    let app = spawn_app().await;
    let keys = app.state.store.audit_keys().clone();
    let started = std::time::Instant::now();
    for batch in 0..100 {
        let keys = keys.clone();
        app.state
            .store
            .run(move |conn| {
                use diesel::Connection as _;
                conn.transaction::<_, portcullis::store::StoreError, _>(|conn| {
                    for n in 0..1000 {
                        let event = portcullis::audit::AuditEvent::new("test.event")
                            .subject(format!("{batch}-{n}"));
                        portcullis::audit::append(conn, &keys, 1_800_000_000, &event)?;
                    }
                    Ok(())
                })
            })
            .await
            .unwrap();
    }
    eprintln!("wrote 100k events in {:?}", started.elapsed());
    let report = api_report(&app).await;
    assert!(with_id(&report, "audit.chain_broken").is_empty());
    eprintln!(
        "doctor on {} backend: audit chain checked in {} ms",
        app.db.backend().name(),
        report["audit_check_ms"]
    );
}
