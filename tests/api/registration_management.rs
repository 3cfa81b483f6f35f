//! The client configuration endpoint, RFC 7592 (issue 21 item 3): a registered client reads,
//! replaces and deletes its registration with its registration access token, which is
//! stored as a digest and replaced on every update; anything else is a 401 `invalid_token`;
//! an update is held to the registration policy.

use portcullis::config::RegistrationMode;
use portcullis::manage::Actor;
use portcullis::manage::clients::ClientUpdate;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{LOOPBACK, TestApp, mcp_metadata, spawn_app, spawn_registration_app};

struct Registered {
    id: String,
    uri: String,
    token: String,
    body: Value,
}

async fn open_app() -> TestApp {
    spawn_registration_app(RegistrationMode::Open, &["https://mcp.example.com/*"]).await
}

async fn register(app: &TestApp, metadata: &Value) -> Registered {
    let body = app.registered(metadata).await;
    Registered {
        id: body["client_id"].as_str().unwrap().to_owned(),
        uri: body["registration_client_uri"].as_str().unwrap().to_owned(),
        token: body["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
        body,
    }
}

/// `metadata` as an RFC 7592 update of `client`: its `client_id` added.
fn update_of(client: &Registered, mut metadata: Value) -> Value {
    metadata["client_id"] = json!(client.id);
    metadata
}

#[tokio::test]
async fn rfc_7592_read_update_delete_round_trip() {
    let app = open_app().await;
    let c = register(&app, &mcp_metadata()).await;
    assert_eq!(c.uri, app.url(&format!("/register/{}", c.id)));

    // Read: the registration as it stands, without credentials.
    let (status, read) = app
        .manage_registration(Method::GET, &c.uri, Some(&c.token), None)
        .await;
    assert_eq!(status, 200, "{read}");
    for field in [
        "client_id",
        "client_name",
        "redirect_uris",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
        "scope",
        "registration_client_uri",
        "client_id_issued_at",
    ] {
        assert_eq!(read[field], c.body[field], "{field}");
    }
    assert!(read.get("registration_access_token").is_none());
    assert!(read.get("client_secret").is_none());

    // Update: a full replace, and a new registration access token.
    let replacement = update_of(
        &c,
        json!({
            "redirect_uris": ["http://127.0.0.1/callback", LOOPBACK],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid",
            "resources": ["https://mcp.example.com/mcp"],
        }),
    );
    let (status, updated) = app
        .manage_registration(Method::PUT, &c.uri, Some(&c.token), Some(&replacement))
        .await;
    assert_eq!(status, 200, "{updated}");
    let next = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(next.starts_with("pcrat_"));
    assert_ne!(next, c.token);
    assert_eq!(updated["client_id"], c.id);
    assert_eq!(
        updated["redirect_uris"],
        json!(["http://127.0.0.1/callback", LOOPBACK])
    );
    assert_eq!(updated["grant_types"], json!(["authorization_code"]));
    assert_eq!(updated["scope"], "openid");
    assert_eq!(updated["resources"], json!(["https://mcp.example.com/mcp"]));
    // What the replacement did not say is gone: the name falls back to the default.
    assert_eq!(updated["client_name"], "Unnamed client");

    // The old token no longer works; the new one reads the new registration.
    let (status, body) = app
        .manage_registration(Method::GET, &c.uri, Some(&c.token), None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_token");
    let (status, read) = app
        .manage_registration(Method::GET, &c.uri, Some(&next), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["scope"], "openid");
    assert_eq!(read["client_id_issued_at"], c.body["client_id_issued_at"]);

    // Delete: the client is gone, and so is every way in.
    let (status, _) = app
        .manage_registration(Method::DELETE, &c.uri, Some(&next), None)
        .await;
    assert_eq!(status, 204);
    assert!(app.state.service.get_client(&c.id).await.is_err());
    let (status, _) = app
        .manage_registration(Method::GET, &c.uri, Some(&next), None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        app.audit_count(Some("client.registration_updated")).await,
        1
    );
    assert_eq!(
        app.audit_count(Some("client.registration_deleted")).await,
        1
    );
}

#[tokio::test]
async fn registration_access_tokens_are_checked() {
    let app = open_app().await;
    let a = register(&app, &mcp_metadata()).await;
    let b = register(&app, &mcp_metadata()).await;
    let unknown = app.url("/register/no-such-client");
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("no token", &a.uri, None),
        ("a made-up token", &a.uri, Some("pcrat_made-up")),
        ("another client's token", &a.uri, Some(&b.token)),
        ("an unknown client", &unknown, Some(&a.token)),
    ];
    for (what, uri, token) in cases {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let body = update_of(&a, mcp_metadata());
            let r = app.http.request(method.clone(), uri).json(&body);
            let r = match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            };
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 401, "{what} {method}");
            let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
            assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "invalid_token", "{what} {method}");
        }
    }
    // Basic is not a bearer token.
    let r = app
        .http
        .get(&a.uri)
        .basic_auth(&a.id, Some(&a.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nothing was changed by any of it.
    let (status, _) = app
        .manage_registration(Method::GET, &a.uri, Some(&a.token), None)
        .await;
    assert_eq!(status, 200);
    assert!(app.state.service.get_client(&b.id).await.is_ok());
}

#[tokio::test]
async fn updates_are_held_to_the_registration_policy() {
    let app = open_app().await;
    let c = register(&app, &mcp_metadata()).await;
    let m = || update_of(&c, mcp_metadata());
    let set = |mut v: Value, key: &str, value: Value| {
        v[key] = value;
        v
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "the password grant",
            set(
                m(),
                "grant_types",
                json!(["authorization_code", "password"]),
            ),
            "invalid_client_metadata",
        ),
        (
            "client_credentials",
            set(m(), "grant_types", json!(["client_credentials"])),
            "invalid_client_metadata",
        ),
        (
            "the admin scope",
            set(m(), "scope", json!("admin")),
            "invalid_client_metadata",
        ),
        (
            "an https redirect for a native client",
            set(
                set(m(), "application_type", json!("native")),
                "redirect_uris",
                json!(["https://app.example.com/cb"]),
            ),
            "invalid_redirect_uri",
        ),
        (
            "becoming confidential",
            set(
                m(),
                "token_endpoint_auth_method",
                json!("client_secret_basic"),
            ),
            "invalid_client_metadata",
        ),
        (
            "choosing a secret",
            set(m(), "client_secret", json!("pcs_mine")),
            "invalid_client_metadata",
        ),
        (
            "another client_id",
            set(m(), "client_id", json!("other")),
            "invalid_client_metadata",
        ),
        ("no client_id", mcp_metadata(), "invalid_client_metadata"),
        (
            "the registration access token",
            set(m(), "registration_access_token", json!(c.token)),
            "invalid_client_metadata",
        ),
        (
            "client_id_issued_at",
            set(m(), "client_id_issued_at", json!(1)),
            "invalid_client_metadata",
        ),
        (
            "a resource outside the patterns",
            set(m(), "resources", json!(["https://evil.example/"])),
            "invalid_client_metadata",
        ),
    ];
    for (what, body, code) in cases {
        let (status, answer) = app
            .manage_registration(Method::PUT, &c.uri, Some(&c.token), Some(&body))
            .await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"], code, "{what}: {answer}");
    }
    // A refused update neither changes the client nor its token.
    let (status, read) = app
        .manage_registration(Method::GET, &c.uri, Some(&c.token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["grant_types"], c.body["grant_types"]);
    assert_eq!(
        app.audit_count(Some("client.registration_updated")).await,
        0
    );

    // A confidential client may repeat its own secret, and keeps it.
    let conf = register(
        &app,
        &json!({
            "redirect_uris": ["https://app.example.com/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        }),
    )
    .await;
    let secret = conf.body["client_secret"].as_str().unwrap();
    let mut body = update_of(
        &conf,
        json!({
            "redirect_uris": ["https://app.example.com/cb2"],
            "token_endpoint_auth_method": "client_secret_post",
            "client_secret": secret,
        }),
    );
    let (status, answer) = app
        .manage_registration(Method::PUT, &conf.uri, Some(&conf.token), Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("client_secret").is_none());
    body["client_secret"] = json!("pcs_guess");
    let next = answer["registration_access_token"].as_str().unwrap();
    let (status, answer) = app
        .manage_registration(Method::PUT, &conf.uri, Some(next), Some(&body))
        .await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn promoted_disabled_and_operator_clients_do_not_manage_themselves() {
    let app = open_app().await;
    let promoted = register(&app, &mcp_metadata()).await;
    let disabled = register(&app, &mcp_metadata()).await;
    app.state
        .service
        .promote_client(&Actor::cli(), &promoted.id)
        .await
        .unwrap();
    app.state
        .service
        .update_client(
            &Actor::cli(),
            &disabled.id,
            ClientUpdate {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for c in [&promoted, &disabled] {
        for method in [Method::GET, Method::DELETE] {
            let (status, body) = app
                .manage_registration(method.clone(), &c.uri, Some(&c.token), None)
                .await;
            assert_eq!(status, 401, "{method}: {body}");
        }
        assert!(app.state.service.get_client(&c.id).await.is_ok());
    }
    let operator = app.public_client("op").redirect_uris(&[LOOPBACK]).await;
    let (status, _) = app
        .manage_registration(
            Method::GET,
            &app.url(&format!("/register/{}", operator.id)),
            Some(&promoted.token),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn closed_registration_has_no_configuration_endpoint() {
    let app = spawn_app().await;
    let operator = app.public_client("op").redirect_uris(&[LOOPBACK]).await;
    let uri = app.url(&format!("/register/{}", operator.id));
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, _) = app
            .manage_registration(method.clone(), &uri, Some("pcrat_x"), Some(&json!({})))
            .await;
        assert_eq!(status, 404, "{method}");
    }
}
