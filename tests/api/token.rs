use std::sync::Arc;

use diesel::prelude::*;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};
use portcullis::clock::Clock;
use portcullis::crypto::jwt::Expected;
use portcullis::manage::Actor;
use portcullis::store::schema::{audit_events, grants, login_failures};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, T0, TestApp, TestDb, spawn_app, spawn_app_with};

/// A confidential client with the `reporting` role; its secret.
async fn confidential(app: &TestApp, id: &str, grants: &[&str], scope: &str, post: bool) -> String {
    let mut builder = app
        .confidential_client(id)
        .grants(grants)
        .scope(scope)
        .roles(&["reporting"])
        // The one resource these clients may name (RFC 8707); see tests/api/resources.rs.
        .resources(&["https://api.example.com"]);
    if post {
        builder = builder.auth_method("client_secret_post");
    }
    builder.await.secret().to_owned()
}

/// A user with the `staff` role; its id.
async fn user(app: &TestApp, name: &str) -> String {
    app.user(name).roles(&["staff"]).await.id
}

fn oauth_client(
    app: &TestApp,
    id: &str,
    secret: &str,
    auth: AuthType,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(format!("{}/token", app.public)).unwrap())
        .set_auth_type(auth)
}

async fn claims(app: &TestApp, token: &str) -> Value {
    app.state
        .keys
        .verify(
            token,
            &Expected {
                typ: "at+jwt",
                issuer: app.state.config.issuer.as_str(),
                audience: None,
                now: T0 + 1,
                leeway: 0,
            },
        )
        .await
        .unwrap()
}

async fn post_form(app: &TestApp, body: &str, basic: Option<(&str, &str)>) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/token", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.unwrap()
}

/// Status, the headers that matter, and the JSON body: the wire format, pinned.
async fn snapshot(r: reqwest::Response) -> (u16, Vec<String>, Value) {
    let status = r.status().as_u16();
    let mut headers: Vec<String> = ["cache-control", "pragma", "www-authenticate", "retry-after"]
        .iter()
        .filter_map(|h| {
            r.headers()
                .get(*h)
                .map(|v| format!("{h}: {}", v.to_str().unwrap()))
        })
        .collect();
    headers.sort();
    (status, headers, r.json().await.unwrap())
}

async fn grant_count(app: &TestApp) -> i64 {
    app.state
        .store
        .run(|conn| Ok(grants::table.count().get_result(conn)?))
        .await
        .unwrap()
}

/// Request body, Basic credentials, expected status, headers and JSON body.
type ErrorCase<'a> = (&'a str, Option<(&'a str, &'a str)>, u16, Vec<String>, Value);

#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let app = spawn_app().await;
    let basic_secret = confidential(
        &app,
        "svc-basic",
        &["client_credentials"],
        "api:read api:write",
        false,
    )
    .await;
    let post_secret =
        confidential(&app, "svc-post", &["client_credentials"], "api:read", true).await;
    let (grants_before, audit_before) = (grant_count(&app).await, app.audit_count(None).await);

    let token = oauth_client(&app, "svc-basic", &basic_secret, AuthType::BasicAuth)
        .exchange_client_credentials()
        .add_scope(Scope::new("api:read".into()))
        .request_async(&app.http)
        .await
        .unwrap();
    assert!(
        token.refresh_token().is_none(),
        "no refresh token for client_credentials"
    );
    assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
    let c = claims(&app, token.access_token().secret()).await;
    assert_eq!(c["sub"], "client:svc-basic");
    assert_eq!(c["client_id"], "svc-basic");
    assert_eq!(c["scope"], "api:read");
    assert_eq!(c["aud"], app.state.config.issuer.as_str());
    assert_eq!(c["roles"], json!(["reporting"]));
    assert_eq!(c["exp"], T0 + 3600);
    assert!(c.get("gid").is_none());

    // Without a scope: everything the client may have.
    let token = oauth_client(&app, "svc-post", &post_secret, AuthType::RequestBody)
        .exchange_client_credentials()
        .request_async(&app.http)
        .await
        .unwrap();
    assert_eq!(
        claims(&app, token.access_token().secret()).await["scope"],
        "api:read"
    );

    // Issuing wrote nothing to the database.
    assert_eq!(grant_count(&app).await, grants_before);
    assert_eq!(app.audit_count(None).await, audit_before);

    // The response is not cacheable.
    let r = post_form(
        &app,
        "grant_type=client_credentials",
        Some(("svc-basic", &basic_secret)),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read api:write");

    // An RFC 8707 resource becomes the audience.
    let r = post_form(
        &app,
        "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.com",
        Some(("svc-basic", &basic_secret)),
    )
    .await;
    let body: Value = r.json().await.unwrap();
    let c = claims(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(c["aud"], "https://api.example.com");

    let text = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"portcullis_tokens_issued_total{grant_type="client_credentials"} 4"#),
        "{text}"
    );
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc6749_json() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.client_cache = std::time::Duration::ZERO;
    })
    .await;
    let secret = confidential(&app, "svc", &["client_credentials"], "api:read", false).await;
    let post_secret =
        confidential(&app, "svc-post", &["client_credentials"], "api:read", true).await;
    let no_store = "cache-control: no-store".to_owned();
    let no_cache = "pragma: no-cache".to_owned();
    let challenge = r#"www-authenticate: Basic realm="portcullis""#.to_owned();
    let invalid_client =
        json!({"error": "invalid_client", "error_description": "client authentication failed"});

    let cases: Vec<ErrorCase> = vec![
        // Unknown client, wrong secret, wrong method: one answer.
        (
            "grant_type=client_credentials",
            Some(("nobody", "x")),
            401,
            vec![no_store.clone(), no_cache.clone(), challenge.clone()],
            invalid_client.clone(),
        ),
        (
            "grant_type=client_credentials",
            Some(("svc", "pcs_wrong")),
            401,
            vec![no_store.clone(), no_cache.clone(), challenge.clone()],
            invalid_client.clone(),
        ),
        (
            "grant_type=client_credentials",
            Some(("svc-post", post_secret.as_str())),
            401,
            vec![no_store.clone(), no_cache.clone(), challenge.clone()],
            invalid_client.clone(),
        ),
        (
            "grant_type=client_credentials&client_id=svc&client_secret=pcs_wrong",
            None,
            401,
            vec![no_store.clone(), no_cache.clone(), challenge.clone()],
            invalid_client.clone(),
        ),
        (
            "grant_type=client_credentials",
            None,
            401,
            vec![no_store.clone(), no_cache.clone(), challenge.clone()],
            json!({"error": "invalid_client", "error_description": "client authentication is required"}),
        ),
        (
            "scope=api%3Aread",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "invalid_request", "error_description": "missing parameter `grant_type`"}),
        ),
        (
            "grant_type=implicit",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "unsupported_grant_type", "error_description": "grant_type must be one of authorization_code, client_credentials, password, refresh_token"}),
        ),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "invalid_request", "error_description": "parameter `grant_type` was sent more than once"}),
        ),
        (
            "grant_type=client_credentials&scope=api%3Aadmin",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "invalid_scope", "error_description": "scope not allowed for this client: api:admin"}),
        ),
        (
            "grant_type=password&username=a&password=b",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "unauthorized_client", "error_description": "this client may not use the password grant"}),
        ),
        (
            "grant_type=refresh_token&refresh_token=pcr_x",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "unauthorized_client", "error_description": "this client may not use the refresh_token grant"}),
        ),
        (
            "grant_type=client_credentials&resource=not%20a%20uri",
            Some(("svc", secret.as_str())),
            400,
            vec![no_store.clone(), no_cache.clone()],
            json!({"error": "invalid_target", "error_description": "resource must be an absolute URI without a fragment (RFC 8707)"}),
        ),
        (
            "grant_type=client_credentials",
            Some(("svc", secret.as_str())),
            200,
            vec![no_store.clone(), no_cache.clone()],
            Value::Null,
        ),
    ];
    for (body, basic, status, headers, expected) in cases {
        let (got_status, got_headers, got_body) =
            snapshot(post_form(&app, body, basic).await).await;
        assert_eq!(got_status, status, "{body}: {got_body}");
        let mut want = headers.clone();
        want.sort();
        assert_eq!(got_headers, want, "{body}");
        if !expected.is_null() {
            assert_eq!(got_body, expected, "{body}");
        }
    }

    // Not a form: refused before anything else.
    let r = app
        .http
        .post(format!("{}/token", app.public))
        .basic_auth("svc", Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let (status, _, body) = snapshot(r).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Wrong method.
    let r = app
        .http
        .get(format!("{}/token", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // Oversized body: a 4xx, not a crash.
    let big = format!("grant_type=client_credentials&scope={}", "a".repeat(20_000));
    let r = post_form(&app, &big, Some(("svc", &secret))).await;
    assert_eq!(r.status(), 413);

    // Disabling a client stops it at once with the cache off.
    app.state
        .service
        .update_client(
            &Actor::cli(),
            "svc",
            portcullis::manage::clients::ClientUpdate {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _, body) = snapshot(
        post_form(
            &app,
            "grant_type=client_credentials",
            Some(("svc", &secret)),
        )
        .await,
    )
    .await;
    assert_eq!((status, body), (401, invalid_client));
}

#[tokio::test]
async fn password_grant_issues_tokens_and_refuses_generically() {
    let app = spawn_app().await;
    let secret = confidential(
        &app,
        "app",
        &["password", "refresh_token"],
        "api:read offline_access",
        false,
    )
    .await;
    let user_id = user(&app, "Alice").await;
    let client = oauth_client(&app, "app", &secret, AuthType::BasicAuth);

    let token = client
        .exchange_password(
            &ResourceOwnerUsername::new("ALICE".into()),
            &ResourceOwnerPassword::new(PASSWORD.into()),
        )
        .request_async(&app.http)
        .await
        .unwrap();
    let c = claims(&app, token.access_token().secret()).await;
    assert_eq!(c["sub"], user_id.as_str());
    assert_eq!(c["roles"], json!(["staff"]));
    assert_eq!(c["scope"], "api:read offline_access");
    assert!(c["gid"].is_string());
    assert!(token.refresh_token().unwrap().secret().starts_with("pcr_"));

    // Without offline_access: no refresh token.
    let token = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new(PASSWORD.into()),
        )
        .add_scope(Scope::new("api:read".into()))
        .request_async(&app.http)
        .await
        .unwrap();
    assert!(token.refresh_token().is_none());

    // Unknown user, wrong password, disabled account: the same answer.
    let generic =
        json!({"error": "invalid_grant", "error_description": "invalid username or password"});
    let attempt = |username: &'static str, password: &'static str| {
        let app = &app;
        let secret = secret.clone();
        async move {
            let body = format!(
                "grant_type=password&username={username}&password={}",
                password.replace(' ', "+")
            );
            snapshot(post_form(app, &body, Some(("app", &secret))).await).await
        }
    };
    let expected = (
        400,
        vec![
            "cache-control: no-store".to_owned(),
            "pragma: no-cache".to_owned(),
        ],
        generic.clone(),
    );
    assert_eq!(attempt("nobody", PASSWORD).await, expected);
    assert_eq!(attempt("alice", "wrong password").await, expected);
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(attempt("alice", PASSWORD).await, expected);

    let events: Vec<String> = app
        .state
        .store
        .run(|conn| {
            Ok(audit_events::table
                .filter(audit_events::event_type.like("login.%"))
                .order(audit_events::seq.asc())
                .select(audit_events::event_type)
                .load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(
        events,
        vec![
            "login.success",
            "login.success",
            "login.failure",
            "login.failure",
            "login.failure"
        ]
    );
    // Nothing secret reached the audit log.
    let details: Vec<String> = app
        .state
        .store
        .run(|conn| {
            Ok(audit_events::table
                .select(audit_events::details)
                .load(conn)?)
        })
        .await
        .unwrap();
    assert!(
        details
            .iter()
            .all(|d| !d.contains(PASSWORD) && !d.contains(&secret))
    );
}

#[tokio::test]
async fn password_throttling_locks_and_recovers_across_replicas() {
    let db = Arc::new(TestDb::new());
    let a = spawn_app_with(db.clone(), |_| {}).await;
    let b = spawn_app_with(db.clone(), |_| {}).await;
    let secret = confidential(&a, "app", &["password"], "api:read", false).await;
    user(&a, "bob").await;
    let try_login = |app: &TestApp, password: &str| {
        let body = format!(
            "grant_type=password&username=bob&password={}",
            password.replace(' ', "+")
        );
        let secret = secret.clone();
        let url = format!("{}/token", app.public);
        let http = app.http.clone();
        async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .basic_auth("app", Some(secret))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Ten failures spread over both replicas, each after the previous delay has passed.
    let policy = a.state.config.login.user;
    let mut now = a.clock.now();
    for n in 0..policy.lock_after_failures {
        let app = if n % 2 == 0 { &a } else { &b };
        assert_eq!(try_login(app, "wrong").await, 400);
        now += policy.max_delay_secs + 1;
        a.clock.set(now);
        b.clock.set(now);
    }
    // Locked: even the right password is refused, on either replica.
    assert_eq!(try_login(&a, PASSWORD).await, 400);
    assert_eq!(try_login(&b, PASSWORD).await, 400);
    let locked = a.audit_count(Some("login.locked")).await;
    assert_eq!(locked, 1);
    // After the lock, the user gets in again, and that success clears the user's counter
    // (the IP's stays: other usernames may be tried from there).
    a.clock.set(now + policy.lock_secs + 1);
    b.clock.set(now + policy.lock_secs + 1);
    assert_eq!(try_login(&b, PASSWORD).await, 200);
    let keys: Vec<String> = a
        .state
        .store
        .run(|conn| {
            Ok(login_failures::table
                .select(login_failures::throttle_key)
                .load(conn)?)
        })
        .await
        .unwrap();
    assert!(!keys.contains(&"user:bob".to_owned()), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("ip:")), "{keys:?}");
    // The next failure counts from one again.
    assert_eq!(try_login(&a, "wrong").await, 400);
    let failures: i32 = a
        .state
        .store
        .run(|conn| {
            Ok(login_failures::table
                .find("user:bob")
                .select(login_failures::failures)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(failures, 1);
}

async fn refresh(app: &TestApp, secret: &str, token: &str, scope: Option<&str>) -> (u16, Value) {
    let mut body = format!("grant_type=refresh_token&refresh_token={token}");
    if let Some(s) = scope {
        body.push_str(&format!(
            "&scope={}",
            s.replace(' ', "+").replace(':', "%3A")
        ));
    }
    let r = post_form(app, &body, Some(("app", secret))).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let secret = confidential(
        &app,
        "app",
        &["password", "refresh_token"],
        "api:read api:write offline_access",
        false,
    )
    .await;
    let other = confidential(
        &app,
        "other",
        &["password", "refresh_token"],
        "api:read offline_access",
        false,
    )
    .await;
    user(&app, "carol").await;
    let client = oauth_client(&app, "app", &secret, AuthType::BasicAuth);
    let first = client
        .exchange_password(
            &ResourceOwnerUsername::new("carol".into()),
            &ResourceOwnerPassword::new(PASSWORD.into()),
        )
        .request_async(&app.http)
        .await
        .unwrap();
    let rt1 = first.refresh_token().unwrap().clone();
    let gid = claims(&app, first.access_token().secret()).await["gid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another client cannot use it, and trying does not spend it.
    let (status, body) = {
        let r = post_form(
            &app,
            &format!("grant_type=refresh_token&refresh_token={}", rt1.secret()),
            Some(("other", &other)),
        )
        .await;
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Narrowing is fine; the oauth2 crate as the client.
    let second = client
        .exchange_refresh_token(&rt1)
        .add_scope(Scope::new("api:read".into()))
        .request_async(&app.http)
        .await
        .unwrap();
    let rt2 = second.refresh_token().unwrap().clone();
    assert_ne!(rt1.secret(), rt2.secret(), "rotated");
    let c = claims(&app, second.access_token().secret()).await;
    assert_eq!(c["scope"], "api:read");
    assert_eq!(c["gid"], gid.as_str());

    // Widening beyond the grant is refused (and does not spend the token).
    let (status, body) = refresh(&app, &secret, rt2.secret(), Some("api:admin")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // The grant's full scope is still available after narrowing once.
    let (status, body) = refresh(&app, &secret, rt2.secret(), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "api:read api:write offline_access");
    let rt3 = body["refresh_token"].as_str().unwrap().to_owned();

    // Reusing the spent rt1: refused, and the whole family goes.
    let err = client
        .exchange_refresh_token(&rt1)
        .request_async(&app.http)
        .await
        .unwrap_err();
    match err {
        RequestTokenError::ServerResponse(r) => assert_eq!(r.error().as_ref(), "invalid_grant"),
        other => panic!("{other:?}"),
    }
    let (status, _) = refresh(&app, &secret, &rt3, None).await;
    assert_eq!(status, 400, "the newest token of the family is revoked too");
    let revoked = app
        .state
        .store
        .run(move |conn| portcullis::store::models::grants::grant_is_revoked(conn, &gid))
        .await
        .unwrap();
    assert!(
        revoked,
        "access tokens carrying this gid are now deny-listed"
    );
    let reuse = app.audit_count(Some("token.refresh_reuse")).await;
    assert_eq!(reuse, 1);
}

#[tokio::test]
async fn refresh_tokens_expire_and_die_with_their_user() {
    let app = spawn_app().await;
    let secret = confidential(
        &app,
        "app",
        &["password", "refresh_token"],
        "offline_access",
        false,
    )
    .await;
    user(&app, "dave").await;
    let body = format!(
        "grant_type=password&username=dave&password={}",
        PASSWORD.replace(' ', "+")
    );
    let login = async |app: &TestApp| -> String {
        let r = post_form(app, &body, Some(("app", &secret))).await;
        let v: Value = r.json().await.unwrap();
        v["refresh_token"].as_str().unwrap().to_owned()
    };
    let rt = login(&app).await;
    // Idle lifetime (14 days by default) passes: expired.
    app.clock
        .advance(app.state.config.tokens.refresh_token_idle + 1);
    let (status, body) = refresh(&app, &secret, &rt, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let rt = login(&app).await;
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "dave", true)
        .await
        .unwrap();
    let (status, _) = refresh(&app, &secret, &rt, None).await;
    assert_eq!(status, 400);
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "dave", false)
        .await
        .unwrap();
    // Disabling signed the user out everywhere (issue 18): enabling the account again
    // brings no refresh family back.
    let (status, body) = refresh(&app, &secret, &rt, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a disabled user's family stays ended"
    );
}

/// Roles come from the user's current record on every refresh (all of them, none, or the
/// user is gone), never from the grant or the previous token.
#[tokio::test]
async fn a_refresh_reads_the_users_roles_afresh() {
    let app = spawn_app().await;
    let (secret, rt) = signed_in_with_refresh(&app, "gwen").await;
    let refreshed = async |rt: &str| -> (Value, String) {
        let (status, body) = refresh(&app, &secret, rt, None).await;
        assert_eq!(status, 200, "{body}");
        let roles = claims(&app, body["access_token"].as_str().unwrap()).await["roles"].clone();
        (roles, body["refresh_token"].as_str().unwrap().to_owned())
    };
    let (roles, rt) = refreshed(&rt).await;
    assert_eq!(roles, json!(["staff"]));

    for role in ["ops", "billing"] {
        app.state
            .service
            .add_user_role(&Actor::cli(), "gwen", role)
            .await
            .unwrap();
    }
    let (roles, rt) = refreshed(&rt).await;
    assert_eq!(
        roles,
        json!(["billing", "ops", "staff"]),
        "every role, sorted"
    );

    for role in ["ops", "billing", "staff"] {
        app.state
            .service
            .remove_user_role(&Actor::cli(), "gwen", role)
            .await
            .unwrap();
    }
    let (roles, rt) = refreshed(&rt).await;
    assert_eq!(roles, Value::Null, "no roles left: the claim is left out");

    app.state
        .service
        .delete_user(&Actor::cli(), "gwen")
        .await
        .unwrap();
    let (status, body) = refresh(&app, &secret, &rt, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// A confidential client `app` with the password and refresh grants, a user `name`, and
/// a refresh token for that user from the password grant: (client secret, refresh token).
async fn signed_in_with_refresh(app: &TestApp, name: &str) -> (String, String) {
    let secret = confidential(
        app,
        "app",
        &["password", "refresh_token"],
        "offline_access",
        false,
    )
    .await;
    user(app, name).await;
    let body = format!(
        "grant_type=password&username={name}&password={}",
        PASSWORD.replace(' ', "+")
    );
    let v: Value = post_form(app, &body, Some(("app", &secret)))
        .await
        .json()
        .await
        .unwrap();
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    (secret, rt)
}

#[tokio::test]
async fn concurrent_refreshes_let_at_most_one_win() {
    let app = spawn_app().await;
    let (secret, rt) = signed_in_with_refresh(&app, "erin").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app_url, http, secret, rt) = (
            app.public.clone(),
            app.http.clone(),
            secret.clone(),
            rt.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(format!("{app_url}/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .basic_auth("app", Some(secret))
                .body(format!("grant_type=refresh_token&refresh_token={rt}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        ok += usize::from(status == 200);
    }
    assert!(ok <= 1, "{ok} concurrent redemptions succeeded");
}

/// Rotation stores "used" and the successor together: when the successor cannot be
/// stored, the presented token is not spent and still works.
#[tokio::test]
async fn a_rotation_that_cannot_store_its_successor_spends_nothing() {
    use portcullis::store::models::grants as rows;
    let app = spawn_app().await;
    let (secret, rt) = signed_in_with_refresh(&app, "frank").await;
    let digest = portcullis::crypto::tokens::digest(&rt).to_vec();
    let d = digest.clone();
    let failed = app
        .state
        .store
        .run(move |conn| {
            let (token, _) = rows::find_refresh_token(conn, &d)?.expect("stored");
            // A successor whose digest is taken: its insert fails after the update ran.
            let clash = rows::RefreshTokenRow {
                rotated_at: None,
                ..token
            };
            rows::rotate_refresh_token(conn, &d, T0, &clash)
        })
        .await;
    assert!(failed.is_err(), "{failed:?}");
    let d = digest.clone();
    let (token, _) = app
        .state
        .store
        .run(move |conn| rows::find_refresh_token(conn, &d))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.rotated_at, None, "rolled back with the failed insert");
    let (status, v) = refresh(&app, &secret, &rt, None).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn per_ip_rate_limit_answers_429() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.rate_limit.token_per_second = 1;
        c.rate_limit.token_burst = 2;
    })
    .await;
    let secret = confidential(&app, "svc", &["client_credentials"], "api:read", false).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = post_form(
            &app,
            "grant_type=client_credentials",
            Some(("svc", &secret)),
        )
        .await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "temporarily_unavailable");
        }
    }
    assert_eq!(&statuses[..2], &[200, 200]);
    assert!(statuses[2..].contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn password_overload_answers_503_with_retry_after() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.password.workers = 1;
        c.password.queue_limit = 1;
        c.password.iterations = 3;
        // Each attempt in flight holds a place on frank's counter until it succeeds:
        // room for all of them, so this test sees the hashing pool's limit alone.
        c.login.user.max_failures = 50;
        c.login.user.lock_after_failures = 100;
    })
    .await;
    let secret = confidential(&app, "app", &["password"], "api:read", false).await;
    user(&app, "frank").await;
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (url, http, secret) = (
            format!("{}/token", app.public),
            app.http.clone(),
            secret.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .basic_auth("app", Some(secret))
                .body(format!(
                    "grant_type=password&username=frank&password={}",
                    PASSWORD.replace(' ', "+")
                ))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("retry-after").is_some(),
            )
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert!(
        results.iter().all(|(s, _)| *s == 200 || *s == 503),
        "{results:?}"
    );
    assert!(results.iter().any(|(s, _)| *s == 200));
    assert!(
        results.iter().any(|(s, retry)| *s == 503 && *retry),
        "{results:?}"
    );
}
