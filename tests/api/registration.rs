//! Dynamic client registration, RFC 7591 (issue 21 item 2): off by default and absent from
//! discovery; when open, a registration answers with the client information response; the
//! registration policy refuses what it must, each rule with its RFC 7591 error code;
//! initial access tokens gate registration, count their uses and expire; the number of
//! registered clients and the rate of registrations are bounded.

use std::sync::Arc;

use portcullis::config::{Bucket, RegistrationMode};
use portcullis::manage::Actor;
use serde_json::{Value, json};

use crate::cli::ok_json;
use crate::helpers::{
    LOOPBACK, TestApp, TestDb, mcp_metadata, registration_settings, spawn_app, spawn_app_with,
    spawn_registration_app,
};

const MCP: &str = "https://mcp.example.com/*";

async fn open_app() -> TestApp {
    spawn_registration_app(RegistrationMode::Open, &[MCP]).await
}

fn issuer(app: &TestApp) -> String {
    app.state.config.issuer.as_str().to_owned()
}

async fn discovery(app: &TestApp, path: &str) -> Value {
    app.http
        .get(format!("{}{path}", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `metadata` with `change` merged in.
fn with(mut metadata: Value, change: Value) -> Value {
    let object = metadata.as_object_mut().unwrap();
    for (k, v) in change.as_object().unwrap() {
        object.insert(k.clone(), v.clone());
    }
    metadata
}

#[tokio::test]
async fn registration_is_closed_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.state.config.registration.mode, RegistrationMode::Closed);
    let (status, body) = app.register(&mcp_metadata(), None).await;
    assert_eq!(status, 404, "{body}");
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = discovery(&app, path).await;
        assert!(doc.get("registration_endpoint").is_none(), "{path}: {doc}");
    }
    assert_eq!(app.audit_count(Some("client.registered")).await, 0);
}

#[tokio::test]
async fn open_registration_is_advertised_in_discovery() {
    let app = open_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = discovery(&app, path).await;
        assert_eq!(
            doc["registration_endpoint"],
            format!("{}/register", issuer(&app)),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_registration_answers_with_rfc_7591_client_information() {
    let app = open_app().await;
    let r = app
        .http
        .post(app.url("/register"))
        .json(&mcp_metadata())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let body: Value = r.json().await.unwrap();
    let id = body["client_id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    // A public client: no secret, so no expiry of one either.
    assert!(body.get("client_secret").is_none(), "{body}");
    assert!(body.get("client_secret_expires_at").is_none(), "{body}");
    assert_eq!(body["client_id_issued_at"], crate::helpers::T0);
    assert!(
        body["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("pcrat_")
    );
    assert_eq!(
        body["registration_client_uri"],
        format!("{}/register/{id}", issuer(&app))
    );
    assert_eq!(body["client_name"], "Example MCP client");
    assert_eq!(body["redirect_uris"], json!([LOOPBACK]));
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["application_type"], "web");
    // No scope asked for: every scope registered clients may have.
    assert_eq!(body["scope"], "email offline_access openid profile");

    // The client as operators see it: registered, no roles, consent and PKCE.
    let view = app.state.service.get_client(&id).await.unwrap();
    assert_eq!(view.origin, "registration");
    assert!(view.roles.is_empty());
    assert!(!view.first_party);
    assert!(view.require_pkce);
    assert!(!view.confidential);
    assert_eq!(view.last_used_at, None);
    assert_eq!(app.audit_count(Some("client.registered")).await, 1);

    // A confidential client gets a secret, shown once, that never expires.
    let body = app
        .registered(&json!({
            "redirect_uris": ["https://app.example.com/cb"],
            "token_endpoint_auth_method": "client_secret_post",
            "client_name": "Web app",
            "scope": "openid email",
            "logo_uri": "https://app.example.com/logo.png",
            "client_uri": "https://app.example.com/",
            "resources": ["https://mcp.example.com/mcp"],
            "unknown_metadata": "is ignored",
        }))
        .await;
    assert!(body["client_secret"].as_str().unwrap().starts_with("pcs_"));
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    assert_eq!(body["scope"], "email openid");
    assert_eq!(body["resources"], json!(["https://mcp.example.com/mcp"]));
    assert_eq!(body["logo_uri"], "https://app.example.com/logo.png");
    assert_eq!(body["client_uri"], "https://app.example.com/");
    assert!(body.get("unknown_metadata").is_none());
}

/// Every rule of the registration policy, over HTTP: a 400 with its RFC 7591 section
/// 3.2.2 code, and nothing stored.
#[tokio::test]
async fn every_registration_policy_rule_is_refused_over_http() {
    let app = open_app().await;
    let m = mcp_metadata;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a software statement",
            with(
                m(),
                json!({"software_statement": "eyJhbGciOiJub25lIn0.e30."}),
            ),
            "invalid_software_statement",
        ),
        (
            "the password grant",
            with(
                m(),
                json!({"grant_types": ["authorization_code", "password"]}),
            ),
            "invalid_client_metadata",
        ),
        (
            "the implicit grant",
            with(
                m(),
                json!({"grant_types": ["implicit"], "response_types": ["token"]}),
            ),
            "invalid_client_metadata",
        ),
        (
            "client_credentials without an initial access token",
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            "the admin scope",
            with(m(), json!({"scope": "openid admin"})),
            "invalid_client_metadata",
        ),
        (
            "a scope outside registration.allowed_scopes",
            with(m(), json!({"scope": "openid payments"})),
            "invalid_client_metadata",
        ),
        (
            "no redirect URI for the code grant",
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            "plain http off loopback",
            with(m(), json!({"redirect_uris": ["http://app.example.com/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            "a javascript: redirect",
            with(m(), json!({"redirect_uris": ["javascript:alert(1)"]})),
            "invalid_redirect_uri",
        ),
        (
            "a redirect with a fragment",
            with(
                m(),
                json!({"redirect_uris": ["https://app.example.com/cb#f"]}),
            ),
            "invalid_redirect_uri",
        ),
        (
            "a bare custom scheme",
            with(
                m(),
                json!({"redirect_uris": ["myapp:/cb"], "application_type": "native"}),
            ),
            "invalid_redirect_uri",
        ),
        (
            "a web client with a private-use scheme",
            with(m(), json!({"redirect_uris": ["com.example.app:/cb"]})),
            "invalid_redirect_uri",
        ),
        (
            "a native client with https",
            with(
                m(),
                json!({"redirect_uris": ["https://app.example.com/cb"], "application_type": "native"}),
            ),
            "invalid_redirect_uri",
        ),
        (
            "eleven redirect URIs",
            with(
                m(),
                json!({"redirect_uris": (0..11).map(|i| format!("http://127.0.0.1/cb{i}")).collect::<Vec<_>>()}),
            ),
            "invalid_redirect_uri",
        ),
        (
            "an unknown application_type",
            with(m(), json!({"application_type": "desktop"})),
            "invalid_client_metadata",
        ),
        (
            "private_key_jwt",
            with(
                m(),
                json!({"token_endpoint_auth_method": "private_key_jwt"}),
            ),
            "invalid_client_metadata",
        ),
        (
            "a resource outside registration.allowed_resources",
            with(m(), json!({"resources": ["https://evil.example/"]})),
            "invalid_client_metadata",
        ),
        (
            "a resource escaping its pattern",
            with(m(), json!({"resource": "https://mcp.example.com/../admin"})),
            "invalid_client_metadata",
        ),
        (
            "an http logo",
            with(m(), json!({"logo_uri": "http://app.example.com/logo.png"})),
            "invalid_client_metadata",
        ),
        (
            "a client_name of 101 characters",
            with(m(), json!({"client_name": "x".repeat(101)})),
            "invalid_client_metadata",
        ),
        (
            "a chosen client_id",
            with(m(), json!({"client_id": "mine"})),
            "invalid_client_metadata",
        ),
        (
            "a chosen client_secret",
            with(m(), json!({"client_secret": "mine"})),
            "invalid_client_metadata",
        ),
        (
            "a registration_access_token",
            with(m(), json!({"registration_access_token": "mine"})),
            "invalid_client_metadata",
        ),
        (
            "redirect_uris as a string",
            with(m(), json!({"redirect_uris": LOOPBACK})),
            "invalid_client_metadata",
        ),
        (
            "a body that is not an object",
            json!(["redirect_uris"]),
            "invalid_client_metadata",
        ),
    ];
    for (what, body, code) in cases {
        let r = app
            .http
            .post(app.url("/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{what}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{what}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"], code, "{what}: {answer}");
        assert!(answer["error_description"].is_string(), "{what}: {answer}");
    }
    assert!(app.state.service.list_clients().await.unwrap().is_empty());
    assert_eq!(app.audit_count(Some("client.registered")).await, 0);
}

#[tokio::test]
async fn a_registration_body_must_be_json_client_metadata() {
    let app = open_app().await;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "redirect_uris=x"),
        ("application/json", "{not json"),
        ("text/plain", "{}"),
    ] {
        let r = app
            .http
            .post(app.url("/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{content_type}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_client_metadata", "{answer}");
    }
    // Too large a body is refused before it is read whole.
    let huge = json!({ "client_name": "x".repeat(32 * 1024) });
    let (status, _) = app.register(&huge, None).await;
    assert_eq!(status, 413);
}

async fn iat_app() -> TestApp {
    spawn_registration_app(RegistrationMode::InitialAccessToken, &[MCP]).await
}

async fn initial_access_token(app: &TestApp, uses: u32, expires_in: i64) -> (String, String) {
    let created = app
        .state
        .service
        .create_registration_token(&Actor::cli(), Some(uses), Some(expires_in))
        .await
        .unwrap();
    (created.id, created.token)
}

#[tokio::test]
async fn initial_access_tokens_gate_registration_and_count_their_uses() {
    let app = iat_app().await;
    // None, or one that is not a token of ours: 401 with a Bearer challenge.
    for token in [None, Some("pciat_not-a-token")] {
        let mut req = app.http.post(app.url("/register")).json(&mcp_metadata());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{token:?}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");
    }
    let (id, token) = initial_access_token(&app, 2, 3600).await;
    assert!(token.starts_with("pciat_"));
    // A registration the policy refuses spends nothing.
    let (status, _) = app
        .register(
            &with(mcp_metadata(), json!({"scope": "admin"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400);
    let uses_left = || app.state.service.registration_token_uses_left(&id);
    assert_eq!(uses_left().await.unwrap(), Some(2));
    for left in [1, 0] {
        let (status, body) = app.register(&mcp_metadata(), Some(&token)).await;
        assert_eq!(status, 201, "{body}");
        // Spent, the janitor running beside the test may already have deleted it.
        let now = uses_left().await.unwrap();
        assert!(now == Some(left) || (left == 0 && now.is_none()), "{now:?}");
    }
    let (status, body) = app.register(&mcp_metadata(), Some(&token)).await;
    assert_eq!(status, 401, "a spent token: {body}");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(app.state.service.list_clients().await.unwrap().len(), 2);
    // Each registration's event names the token it spent.
    let events = crate::helpers::audit_details(&app, "client.registered").await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|d| d["initial_access_token"] == id));
}

#[tokio::test]
async fn parallel_registrations_cannot_share_the_last_use() {
    let app = iat_app().await;
    let (_, token) = initial_access_token(&app, 1, 3600).await;
    let metadata = mcp_metadata();
    let attempts = (0..6).map(|_| app.register(&metadata, Some(&token)));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 401),
        "{statuses:?}"
    );
    assert_eq!(app.state.service.list_clients().await.unwrap().len(), 1);
}

#[tokio::test]
async fn initial_access_tokens_expire() {
    let app = iat_app().await;
    let (_, token) = initial_access_token(&app, 5, 60).await;
    app.clock.advance(59);
    let (status, _) = app.register(&mcp_metadata(), Some(&token)).await;
    assert_eq!(status, 201);
    app.clock.advance(1);
    let (status, body) = app.register(&mcp_metadata(), Some(&token)).await;
    assert_eq!(status, 401, "{body}");
    // The janitor deletes spent and expired tokens.
    let now = crate::helpers::T0 + 61;
    let report = portcullis::janitor::purge(&app.state.store, &app.state.config, now)
        .await
        .unwrap();
    assert_eq!(report.purged("initial_access_tokens"), 1);
}

#[tokio::test]
async fn client_credentials_needs_an_initial_access_token() {
    let app = open_app().await;
    let service = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "client_name": "Batch job",
        "scope": "profile",
    });
    let (status, body) = app.register(&service, None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_client_metadata");
    // Open mode still takes an initial access token, and it vouches for more.
    let (_, token) = initial_access_token(&app, 1, 3600).await;
    let (status, body) = app.register(&service, Some(&token)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["response_types"], json!([]));
    let client = crate::helpers::TestClient {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: Some(body["client_secret"].as_str().unwrap().to_owned()),
    };
    let (status, tokens) = app
        .token_request(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "profile");
    // The admin scope was never its to ask for.
    let (status, tokens) = app
        .token_request(
            &client,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    assert_eq!(status, 400, "{tokens}");
    assert_eq!(tokens["error"], "invalid_scope");
}

#[tokio::test]
async fn registered_clients_are_bounded_by_max_clients() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        registration_settings(c, RegistrationMode::Open, &[MCP]);
        c.registration.max_clients = 2;
    })
    .await;
    // Operators' clients do not count against it.
    app.confidential_client("operator").await;
    for _ in 0..2 {
        app.registered(&mcp_metadata()).await;
    }
    let r = app
        .http
        .post(app.url("/register"))
        .json(&mcp_metadata())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(app.state.service.list_clients().await.unwrap().len(), 3);
}

#[tokio::test]
async fn registration_has_its_own_rate_limit_bucket() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        registration_settings(c, RegistrationMode::Open, &[MCP]);
        c.rate_limit.endpoints.insert(
            "register",
            Bucket {
                per_second: 1,
                burst: 2,
            },
        );
    })
    .await;
    for _ in 0..2 {
        app.registered(&mcp_metadata()).await;
    }
    // The client configuration endpoint shares the bucket.
    let (status, body) = app
        .manage_registration(
            reqwest::Method::GET,
            &app.url("/register/some-client"),
            Some("pcrat_x"),
            None,
        )
        .await;
    assert_eq!(status, 429, "{body}");
    let (status, body) = app.register(&mcp_metadata(), None).await;
    assert_eq!(status, 429, "{body}");
    // Other endpoints keep their own.
    let r = app.http.get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn operators_make_initial_access_tokens_with_the_cli_and_the_admin_api() {
    let app = iat_app().await;
    let made = ok_json(
        &app.db,
        &[
            "client",
            "registration-token",
            "create",
            "--uses",
            "3",
            "--expires-in",
            "600",
        ],
        None,
    );
    assert_eq!(made["uses"], 3);
    // The CLI reads the wall clock: the server's is set to it.
    let now = portcullis::clock::Clock::now(&portcullis::clock::SystemClock);
    let expires_at = made["expires_at"].as_i64().unwrap();
    assert!((now + 590..=now + 610).contains(&expires_at), "{made}");
    app.clock.set(now);
    let token = made["token"].as_str().unwrap();
    let (status, body) = app.register(&mcp_metadata(), Some(token)).await;
    assert_eq!(status, 201, "{body}");

    let admin = app
        .confidential_client("svc-admin")
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&["admin"])
        .await;
    let bearer = app.cc_token(&admin, Some("admin")).await;
    let post = |body: Value| {
        app.http
            .post(format!("{}/admin/v1/registration-tokens", app.admin))
            .bearer_auth(&bearer)
            .json(&body)
            .send()
    };
    let r = post(json!({"uses": 2})).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["uses"], 2);
    assert_eq!(made["expires_at"].as_i64().unwrap(), now + 7 * 86_400);
    let (status, _) = app
        .register(&mcp_metadata(), Some(made["token"].as_str().unwrap()))
        .await;
    assert_eq!(status, 201);
    for bad in [
        json!({"uses": 0}),
        json!({"expires_in": 10}),
        json!({"use": 1}),
    ] {
        let r = post(bad.clone()).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    assert_eq!(app.audit_count(Some("registration_token.created")).await, 2);
}
