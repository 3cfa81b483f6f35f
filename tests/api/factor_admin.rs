//! Issue 20, item 7 (administration of second factors): `portcullis user enroll-totp`
//! provisions an authenticator whose codes the server's second-factor page accepts (so the
//! CLI seals with the server's master keys); `user factors` and `GET .../factors` list
//! factors and recovery codes left, never a secret or a credential; `user reset-factors`
//! and `DELETE .../factors` remove them and sign the user out everywhere, under the admin
//! API's permissions and its rule against acting on a user who holds more.

use std::sync::Arc;

use portcullis::admin::rbac::Rights;
use portcullis::audit::AuditEvent;
use portcullis::clock::Clock;
use portcullis::crypto::totp::{TotpSecret, code_at_step, step_at};
use portcullis::manage::authority::{Caller, Holding};
use portcullis::manage::{Actor, ManageError};
use portcullis::store::factors::{Factor, FactorKind};
use portcullis::store::models::audit::AuditFilter;
use serde_json::{Value, json};

use crate::cli;
use crate::helpers::{
    CALLBACK, TestApp, TestClient, TestUser, hidden, location, refresh_token, spawn_app,
};

const SCOPE: &str = "openid offline_access";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn web(app: &TestApp) -> TestClient {
    app.confidential_client("web")
        .grants(&["authorization_code", "password", "refresh_token"])
        .redirect_uris(&[CALLBACK])
        .scope(SCOPE)
        .first_party()
        .await
}

fn auth_url(app: &TestApp) -> String {
    app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "web"),
        ("redirect_uri", CALLBACK),
        ("scope", SCOPE),
        ("state", "s"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
}

/// Runs the CLI against the app's database; its JSON output.
async fn cli_json(app: &TestApp, args: &[&str]) -> Value {
    let db = app.db.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli::ok_json(&db, &args, None)
    })
    .await
    .unwrap()
}

/// Runs the CLI; its exit status, standard output and standard error.
async fn cli_run(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let db = app.db.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli::run(&db, &args, None);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// `user enroll-totp USER --json`: the secret and the otpauth URI it printed.
async fn enroll(app: &TestApp, user: &str) -> (String, String) {
    let made = cli_json(app, &["user", "enroll-totp", user]).await;
    let mut keys: Vec<&str> = made
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["otpauth_uri", "secret"], "{made}");
    (
        made["secret"].as_str().unwrap().to_owned(),
        made["otpauth_uri"].as_str().unwrap().to_owned(),
    )
}

/// The code an authenticator app holding `secret` shows at the app's time.
fn code_now(app: &TestApp, secret: &str) -> String {
    let secret = TotpSecret::from_base32(secret).unwrap();
    code_at_step(&secret, step_at(app.clock.now()))
}

/// The pages one sign-in went through, and where it ended.
struct Walk {
    pages: Vec<&'static str>,
    /// The URL the browser was sent to outside the server (the client), if it got there.
    back: Option<String>,
    /// The last page, when the walk stopped on one.
    last_html: String,
}

/// Signs `user` in through the pages with `browser`: the password on /login, then `code`
/// (when given) on the second-factor page at /login/factor. Stops at the client or on a
/// page it cannot answer.
async fn sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    user: &TestUser,
    code: Option<&str>,
) -> Walk {
    let mut walk = Walk {
        pages: Vec::new(),
        back: None,
        last_html: String::new(),
    };
    let mut url = auth_url(app);
    for _ in 0..10 {
        let absolute = if url.starts_with('/') {
            format!("{}{url}", app.public)
        } else {
            url.clone()
        };
        if !absolute.starts_with(&app.public) {
            walk.back = Some(absolute);
            return walk;
        }
        let r = browser.get(&absolute).send().await.unwrap();
        if r.status() == 303 {
            url = location(&r);
            continue;
        }
        assert_eq!(r.status(), 200, "{absolute}");
        let html = r.text().await.unwrap();
        let (page, route, fields): (_, _, Vec<(&str, String)>) =
            if html.contains("name=\"password\"") {
                (
                    "login",
                    "/login",
                    vec![
                        ("username", user.username.clone()),
                        ("password", user.password.clone()),
                    ],
                )
            } else if html.contains("name=\"method\" value=\"totp\"") {
                let Some(code) = code else {
                    walk.pages.push("factor");
                    walk.last_html = html;
                    return walk;
                };
                (
                    "factor",
                    "/login/factor",
                    vec![("method", "totp".into()), ("code", code.to_owned())],
                )
            } else if html.contains("name=\"decision\"") {
                ("consent", "/consent", vec![("decision", "allow".into())])
            } else {
                walk.last_html = html;
                return walk;
            };
        walk.pages.push(page);
        let mut form = vec![
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
        ];
        form.extend(fields);
        let r = browser
            .post(app.url(route))
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap();
        if r.status() != 303 {
            walk.last_html = r.text().await.unwrap();
            return walk;
        }
        url = location(&r);
    }
    panic!("the sign-in did not finish: {:?}", walk.pages);
}

/// A service account's admin-API token, holding `roles`.
async fn admin_token(app: &TestApp, roles: &[&str]) -> String {
    let id = format!("svc-{}", uuid::Uuid::new_v4().simple());
    let account = app
        .confidential_client(&id)
        .grants(&["client_credentials"])
        .scope("admin api")
        .roles(roles)
        .await;
    app.cc_token(&account, Some("admin")).await
}

async fn admin_call(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, Value) {
    let url = format!("{}{path}", app.admin);
    let req = match method {
        "GET" => app.http.get(url),
        "DELETE" => app.http.delete(url),
        other => panic!("{other}"),
    };
    let r = req.bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn audit_rows(app: &TestApp, event_type: &str) -> Vec<Value> {
    let filter = AuditFilter {
        event_type: Some(event_type.into()),
        ..AuditFilter::default()
    };
    let rows = app
        .state
        .service
        .query_audit(filter, 0, 1000)
        .await
        .unwrap();
    rows.iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

/// A passkey stored as the pages would store it, with ten recovery code digests: its
/// credential carries a marker that a listing must never show.
async fn add_passkey(app: &TestApp, user_id: &str, marker: &str) {
    let factor = Factor {
        id: uuid::Uuid::new_v4().simple().to_string(),
        user_id: user_id.to_owned(),
        kind: FactorKind::Passkey,
        name: "Laptop".into(),
        confirmed: true,
        created_at: app.clock.now(),
        last_used_at: None,
        secret_sealed: None,
        credential: Some(json!({ "cred": marker }).to_string()),
        credential_id: Some(marker.as_bytes().to_vec()),
    };
    let codes = (0..10u8).map(|i| vec![i; 32]).collect();
    let event = AuditEvent::new("factor.enrolled")
        .by(Actor::user(user_id))
        .subject(user_id.to_owned());
    app.state
        .store
        .add_passkey(factor, codes, app.clock.now(), event)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cli_enrolled_authenticator_satisfies_the_second_factor_page() {
    let app = spawn_app().await;
    web(&app).await;
    let alice = app.user("alice").await;

    // Before: the password alone signs in.
    let walk = sign_in(&app, &app.browser(), &alice, None).await;
    assert_eq!(walk.pages, ["login"]);
    assert!(walk.back.unwrap().contains("code="));

    let (secret, uri) = enroll(&app, "alice").await;
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("alice"), "{uri}");
    let rows = audit_rows(&app, "factor.enrolled").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["actor"], "cli");
    assert_eq!(rows[0]["subject"], alice.id.as_str());
    assert!(
        !rows[0].to_string().contains(&secret),
        "no secret in the audit log"
    );

    // Now the password leads to the second-factor page, and a wrong code stops there.
    let browser = app.browser();
    let walk = sign_in(&app, &browser, &alice, Some("000000")).await;
    assert_eq!(walk.pages, ["login", "factor"]);
    assert!(walk.back.is_none(), "a wrong code signs no one in");
    assert!(
        walk.last_html.contains("role=\"alert\""),
        "{}",
        walk.last_html
    );

    // The code of the secret the CLI printed opens it: the server reads what the CLI sealed.
    let browser = app.browser();
    let walk = sign_in(&app, &browser, &alice, Some(&code_now(&app, &secret))).await;
    assert_eq!(walk.pages, ["login", "factor"]);
    let back = walk.back.expect("back at the client");
    assert!(
        back.starts_with(CALLBACK) && back.contains("code="),
        "{back}"
    );

    // The same code again (another browser, same step) is a replay.
    app.clock.advance(1);
    let walk = sign_in(&app, &app.browser(), &alice, Some(&code_now(&app, &secret))).await;
    assert!(walk.back.is_none(), "a code is taken once");
}

#[tokio::test]
async fn enroll_totp_refuses_a_user_who_has_an_authenticator() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let (first, _) = enroll(&app, &alice.id).await;

    let (ok, stdout, stderr) = cli_run(&app, &["--json", "user", "enroll-totp", "alice"]).await;
    assert!(!ok, "a second enrolment must fail: {stdout}");
    assert!(stdout.is_empty(), "no secret printed: {stdout}");
    assert!(stderr.contains("already has"), "{stderr}");
    let listed = cli_json(&app, &["user", "factors", "alice"]).await;
    assert_eq!(listed["factors"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(audit_rows(&app, "factor.enrolled").await.len(), 1);

    let (ok, _, stderr) = cli_run(&app, &["user", "enroll-totp", "nobody"]).await;
    assert!(!ok && stderr.contains("not found"), "{stderr}");

    // After a reset, a new one can be made, with a new secret.
    cli_json(&app, &["user", "reset-factors", "alice"]).await;
    let (second, _) = enroll(&app, "alice").await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn factors_are_listed_without_secrets_or_credentials() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let empty = cli_json(&app, &["user", "factors", "alice"]).await;
    assert_eq!(
        empty,
        json!({
            "user_id": alice.id, "username": "alice", "factors": [], "recovery_codes_left": 0,
        })
    );

    let (secret, _) = enroll(&app, "alice").await;
    let marker = "credential-blob-marker";
    add_passkey(&app, &alice.id, marker).await;

    let listed = cli_json(&app, &["user", "factors", &alice.id]).await;
    assert_eq!(listed["username"], "alice");
    assert_eq!(listed["recovery_codes_left"], 10);
    let factors = listed["factors"].as_array().unwrap();
    let kinds: Vec<&str> = factors
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["totp", "passkey"]);
    for f in factors {
        let mut keys: Vec<&String> = f.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "confirmed",
                "created_at",
                "id",
                "kind",
                "last_used_at",
                "name"
            ],
            "{f}"
        );
        assert_eq!(f["confirmed"], true);
    }
    assert_eq!(factors[1]["name"], "Laptop");

    let (ok, text, _) = cli_run(&app, &["user", "factors", "alice"]).await;
    assert!(ok);
    assert!(text.contains("totp") && text.contains("passkey"), "{text}");
    assert!(text.contains("recovery codes left: 10"), "{text}");

    let token = admin_token(&app, &["auditor"]).await;
    let (status, api) = admin_call(&app, "GET", "/admin/v1/users/alice/factors", &token).await;
    assert_eq!(status, 200, "{api}");
    assert_eq!(api, listed, "the API and the CLI show the same");

    for shown in [listed.to_string(), text, api.to_string()] {
        assert!(!shown.contains(&secret), "a secret in {shown}");
        assert!(!shown.contains(marker), "a credential in {shown}");
    }

    let (status, body) = admin_call(&app, "GET", "/admin/v1/users/nobody/factors", &token).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn reset_factors_removes_them_and_signs_the_user_out() {
    let app = spawn_app().await;
    let web = web(&app).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    // Refresh families from before the factors (the password grant is refused after).
    let before = app.password_tokens(&web, &alice, Some(SCOPE)).await;
    let bobs = app.password_tokens(&web, &bob, Some(SCOPE)).await;

    let (secret, _) = enroll(&app, "alice").await;
    add_passkey(&app, &alice.id, "blob").await;
    let browser = app.browser();
    let walk = sign_in(&app, &browser, &alice, Some(&code_now(&app, &secret))).await;
    let back = walk.back.expect("signed in with the code");
    let code = crate::helpers::query_param(&back, "code").unwrap();
    let from_code = app
        .tokens(
            &web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    let audit_before = app.audit_count(Some("factors.reset")).await;

    let reset = cli_json(&app, &["user", "reset-factors", "alice"]).await;
    assert_eq!(reset["factors_removed"], 2, "{reset}");
    assert_eq!(reset["sessions_revoked"], 2, "{reset}");

    let listed = cli_json(&app, &["user", "factors", "alice"]).await;
    assert_eq!(listed["factors"], json!([]));
    assert_eq!(listed["recovery_codes_left"], 0);

    // Every refresh family is gone, and so is the browser session.
    for body in [&before, &from_code] {
        let (status, body) = app
            .token_request(
                &web,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token(body)),
                ],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    let r = browser
        .get(format!("{}&prompt=none", auth_url(&app)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        location(&r).contains("error=login_required"),
        "the browser session ended: {}",
        location(&r)
    );
    // Another user's tokens are untouched.
    let (status, _) = app
        .token_request(
            &web,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token(&bobs)),
            ],
        )
        .await;
    assert_eq!(status, 200);

    let rows = audit_rows(&app, "factors.reset").await;
    assert_eq!(rows.len() as i64, audit_before + 1);
    let row = rows.last().unwrap();
    assert_eq!(row["actor"], "cli");
    assert_eq!(row["subject"], alice.id.as_str());
    assert_eq!(row["details"]["factors_removed"], 2, "{row}");

    // Without factors the password alone signs in again.
    let walk = sign_in(&app, &app.browser(), &alice, None).await;
    assert_eq!(walk.pages, ["login"]);
    assert!(walk.back.is_some());
    app.password_tokens(&web, &alice, Some(SCOPE)).await;
}

#[tokio::test]
async fn the_admin_api_resets_factors_within_the_callers_rights() {
    let app = spawn_app().await;
    let staff = app.user("staff-member").roles(&["staff"]).await;
    let boss = app.user("boss").roles(&["admin"]).await;
    for user in ["staff-member", "boss"] {
        enroll(&app, user).await;
    }
    let path = |u: &TestUser| format!("/admin/v1/users/{}/factors", u.id);
    let factors = |u: &TestUser| {
        let (app, id) = (&app, u.id.clone());
        async move {
            app.state
                .service
                .list_user_factors(&id)
                .await
                .unwrap()
                .factors
                .len()
        }
    };

    // users:read lists, but cannot reset: refused and recorded, nothing removed.
    let operator = admin_token(&app, &["operator"]).await;
    let (status, listed) = admin_call(&app, "GET", &path(&boss), &operator).await;
    assert_eq!(status, 200, "{listed}");
    let denied = app.audit_count(Some("admin.denied")).await;
    let (status, body) = admin_call(&app, "DELETE", &path(&staff), &operator).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    assert_eq!(app.audit_count(Some("admin.denied")).await, denied + 1);
    assert_eq!(factors(&staff).await, 1);

    // No escalation: a principal holding users:write but less than the target is refused
    // inside the write (the admin role holds every right, so the rule is shown here with
    // rights below it), with an `admin.denied` row and nothing removed.
    let narrow = Caller::principal(
        Actor::client("narrow"),
        Arc::new(Rights::of(&Holding {
            roles: vec!["operator".into()],
            scopes: vec!["admin".into(), "api".into()],
        })),
    );
    let denied = app.audit_count(Some("admin.denied")).await;
    let err = app
        .state
        .service
        .reset_user_factors(&narrow, &boss.id)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Denied(_)), "{err}");
    assert_eq!(factors(&boss).await, 1);
    assert_eq!(app.audit_count(Some("admin.denied")).await, denied + 1);
    let refusal = audit_rows(&app, "admin.denied").await.pop().unwrap();
    assert_eq!(
        refusal["details"]["attempted"], "factors.reset",
        "{refusal}"
    );
    assert_eq!(refusal["actor"], "client:narrow");
    assert_eq!(app.audit_count(Some("factors.reset")).await, 0);

    // An admin resets, recorded with the admin as actor and counted.
    let admin = admin_token(&app, &["admin"]).await;
    let (status, body) = admin_call(&app, "DELETE", &path(&boss), &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["factors_removed"], 1);
    assert_eq!(factors(&boss).await, 0);
    assert_eq!(factors(&staff).await, 1, "only the target's");
    let row = audit_rows(&app, "factors.reset").await.pop().unwrap();
    assert!(
        row["actor"].as_str().unwrap().starts_with("client:svc-"),
        "{row}"
    );
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"portcullis_second_factor_total{factor="all",outcome="reset"} 1"#),
        "{metrics}"
    );

    let (status, _) = admin_call(&app, "DELETE", "/admin/v1/users/nobody/factors", &admin).await;
    assert_eq!(status, 404);
}
