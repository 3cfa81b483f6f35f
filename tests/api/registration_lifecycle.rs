//! A self-registered client's life (issue 21 items 5 and 7): it signs a user in with PKCE
//! and asks for a token for one resource (an MCP server), which is then exactly the token's
//! audience; refresh may narrow it; the patterns of `registration.allowed_resources` bound
//! what it may name. Tokens issued to a client note its last use (at most hourly); the
//! janitor deletes self-registered clients idle for `registration.idle_days`; operators
//! list clients with their origin and promote the ones they keep.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::config::RegistrationMode;
use portcullis::manage::Actor;
use portcullis::manage::clients::ClientUpdate;
use serde_json::{Value, json};

use crate::cli::{fails, ok_json};
use crate::helpers::{
    LOOPBACK, PKCE_CHALLENGE, PKCE_VERIFIER, T0, TestApp, access_token, audit_details,
    mcp_metadata, refresh_token, spawn_registration_app,
};

const MCP: &str = "https://mcp.example.com/mcp";
const TOOLS: &str = "https://mcp.example.com/tools";
const DAY: i64 = 86_400;

async fn mcp_app() -> TestApp {
    spawn_registration_app(RegistrationMode::Open, &["https://mcp.example.com/*"]).await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn aud(tokens: &Value) -> Value {
    claims(&access_token(tokens))["aud"].clone()
}

/// The authorization URL an MCP client builds: PKCE S256, `resource` for each of
/// `resources`.
fn authorize_url(app: &TestApp, client_id: &str, resources: &[&str]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", LOOPBACK),
        ("scope", "openid offline_access"),
        ("state", "s1"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.extend(resources.iter().map(|r| ("resource", *r)));
    app.authorize_url(&params)
}

/// Signs a new user in through `client_id` asking for `resources`; the token response.
async fn code_flow(app: &TestApp, client_id: &str, resources: &[&str]) -> (u16, Value) {
    let user = app
        .user(&format!("u{}", uuid::Uuid::new_v4().simple()))
        .await;
    let browser = app.browser();
    let back = app
        .login(&browser, &authorize_url(app, client_id, resources), &user)
        .await;
    assert!(back.url.starts_with(LOOPBACK), "{}", back.url);
    assert_eq!(back.param("state").as_deref(), Some("s1"));
    let code = back.code();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", LOOPBACK),
        ("code_verifier", PKCE_VERIFIER),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    app.public_token_request(client_id, &form).await
}

fn client_id(registered: &Value) -> String {
    registered["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_registered_public_client_completes_the_code_flow_with_pkce_and_a_resource() {
    let app = mcp_app().await;
    let id = client_id(&app.registered(&mcp_metadata()).await);

    let (status, tokens) = code_flow(&app, &id, &[MCP]).await;
    assert_eq!(status, 200, "{tokens}");
    // Exactly the resource asked for: not this server, not a list.
    assert_eq!(aud(&tokens), json!(MCP));
    assert_eq!(claims(&access_token(&tokens))["client_id"], id.as_str());
    assert!(tokens["id_token"].is_string());

    // Every refresh carries the same resource (MCP.md point 5) and keeps the audience.
    let rt = refresh_token(&tokens);
    let (status, refreshed) = app
        .public_token_request(
            &id,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("resource", MCP),
            ],
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(aud(&refreshed), json!(MCP));
    // A resource the grant did not name is a widening.
    let (status, refused) = app
        .public_token_request(
            &id,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token(&refreshed).as_str()),
                ("resource", TOOLS),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"], "invalid_target");

    // PKCE is not optional for it.
    let browser = app.browser();
    let no_pkce = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", &id),
        ("redirect_uri", LOOPBACK),
        ("state", "s2"),
    ]);
    let r = browser.get(no_pkce).send().await.unwrap();
    let to = crate::helpers::location(&r);
    assert!(to.starts_with(LOOPBACK), "{to}");
    assert_eq!(
        crate::helpers::query_param(&to, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn registered_clients_name_only_resources_the_patterns_allow() {
    let app = mcp_app().await;
    let id = client_id(&app.registered(&mcp_metadata()).await);
    let browser = app.browser();
    for outside in [
        "https://evil.example/mcp",
        "https://mcp.example.com",
        "https://mcp.example.com/a/../b",
    ] {
        let r = browser
            .get(authorize_url(&app, &id, &[outside]))
            .send()
            .await
            .unwrap();
        let to = crate::helpers::location(&r);
        assert_eq!(
            crate::helpers::query_param(&to, "error").as_deref(),
            Some("invalid_target"),
            "{outside}: {to}"
        );
    }
    // A client that listed resources at registration is held to its list.
    let listed = client_id(
        &app.registered(&json!({
            "redirect_uris": [LOOPBACK],
            "token_endpoint_auth_method": "none",
            "resources": [MCP],
        }))
        .await,
    );
    let r = browser
        .get(authorize_url(&app, &listed, &[TOOLS]))
        .send()
        .await
        .unwrap();
    let to = crate::helpers::location(&r);
    assert_eq!(
        crate::helpers::query_param(&to, "error").as_deref(),
        Some("invalid_target"),
        "{to}"
    );
    let (status, tokens) = code_flow(&app, &listed, &[MCP]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(aud(&tokens), json!(MCP));
    // An operator's client is held to its own list, whatever the patterns allow.
    app.public_client("operator")
        .redirect_uris(&[LOOPBACK])
        .await;
    let r = browser
        .get(authorize_url(&app, "operator", &[MCP]))
        .send()
        .await
        .unwrap();
    let to = crate::helpers::location(&r);
    assert_eq!(
        crate::helpers::query_param(&to, "error").as_deref(),
        Some("invalid_target"),
        "{to}"
    );
}

#[tokio::test]
async fn refresh_may_narrow_a_registered_clients_resources() {
    let app = mcp_app().await;
    let id = client_id(&app.registered(&mcp_metadata()).await);
    let (status, tokens) = code_flow(&app, &id, &[MCP, TOOLS]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(aud(&tokens), json!([MCP, TOOLS]));
    let (status, narrowed) = app
        .public_token_request(
            &id,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token(&tokens).as_str()),
                ("resource", TOOLS),
            ],
        )
        .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(aud(&narrowed), json!(TOOLS));
}

#[tokio::test]
async fn tokens_note_a_clients_last_use_at_most_hourly() {
    let app = mcp_app().await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .scope("api")
        .await;
    let last_used = || async {
        app.state
            .service
            .get_client("svc")
            .await
            .unwrap()
            .last_used_at
    };
    assert_eq!(last_used().await, None);
    app.cc_token(&svc, None).await;
    assert_eq!(last_used().await, Some(T0));
    app.clock.advance(1800);
    app.cc_token(&svc, None).await;
    assert_eq!(last_used().await, Some(T0), "written again within the hour");
    app.clock.advance(1800);
    app.cc_token(&svc, None).await;
    assert_eq!(last_used().await, Some(T0 + 3600));
    // A failed request is no use.
    app.clock.advance(7200);
    let (status, _) = app.token_request(&svc, &[("grant_type", "password")]).await;
    assert_eq!(status, 400);
    assert_eq!(last_used().await, Some(T0 + 3600));
}

#[tokio::test]
async fn the_janitor_deletes_idle_registrations_and_keeps_used_and_promoted_ones() {
    let app = mcp_app().await;
    let idle = client_id(&app.registered(&mcp_metadata()).await);
    let used = client_id(&app.registered(&mcp_metadata()).await);
    let promoted = client_id(&app.registered(&mcp_metadata()).await);
    let operator = app
        .public_client("operator")
        .redirect_uris(&[LOOPBACK])
        .await;
    app.state
        .service
        .promote_client(&Actor::cli(), &promoted)
        .await
        .unwrap();
    // `used` gets a token on day 20.
    app.clock.advance(20 * DAY);
    let (status, tokens) = code_flow(&app, &used, &[MCP]).await;
    assert_eq!(status, 200, "{tokens}");

    let (store, config) = (&app.state.store, &app.state.config);
    assert_eq!(config.registration.idle_secs, 30 * DAY);
    // Day 30 less a second: nothing is idle yet.
    let report = portcullis::janitor::purge(store, config, T0 + 30 * DAY - 1)
        .await
        .unwrap();
    assert_eq!(report.purged("clients"), 0);
    // Day 31: the one never used since its registration goes, with its event.
    let report = portcullis::janitor::purge(store, config, T0 + 31 * DAY)
        .await
        .unwrap();
    assert_eq!(report.purged("clients"), 1);
    let service = &app.state.service;
    assert!(service.get_client(&idle).await.is_err());
    for kept in [&used, &promoted, &operator.id] {
        assert!(service.get_client(kept).await.is_ok(), "{kept}");
    }
    let events = audit_details(&app, "client.idle_deleted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["origin"], "registration");
    assert_eq!(events[0]["idle_days"], 30);
    // Day 51: thirty days after its last token, the used one goes too, grants and all.
    let report = portcullis::janitor::purge(store, config, T0 + 51 * DAY)
        .await
        .unwrap();
    assert_eq!(report.purged("clients"), 1);
    assert!(service.get_client(&used).await.is_err());
    // Its refresh token died with it (`invalid_grant`; `invalid_client` once no cached
    // record of the client is left).
    let (status, body) = app
        .public_token_request(
            &used,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token(&tokens).as_str()),
            ],
        )
        .await;
    assert!(status == 400 || status == 401, "{status} {body}");
    assert!(
        body["error"] == "invalid_grant" || body["error"] == "invalid_client",
        "{body}"
    );
    assert!(service.get_client(&promoted).await.is_ok());
    assert!(service.get_client(&operator.id).await.is_ok());
}

#[tokio::test]
async fn operators_see_origins_and_promote_registered_clients() {
    let app = mcp_app().await;
    let by_api = client_id(&app.registered(&mcp_metadata()).await);
    let by_cli = client_id(&app.registered(&mcp_metadata()).await);
    let admin = app
        .confidential_client("svc-admin")
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&["admin"])
        .await;
    let bearer = app.cc_token(&admin, Some("admin")).await;
    let admin_call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut req = app
            .http
            .request(method, format!("{}{path}", app.admin))
            .bearer_auth(&bearer);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, list) = admin_call(reqwest::Method::GET, "/admin/v1/clients".into(), None).await;
    assert_eq!(status, 200);
    let origin_of = |list: &Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == id)
            .map(|c| c["origin"].clone())
    };
    assert_eq!(origin_of(&list, &by_api), Some(json!("registration")));
    assert_eq!(origin_of(&list, "svc-admin"), Some(json!("cli")));

    // A self-registered client takes no role until an operator owns it.
    let (status, body) = admin_call(
        reqwest::Method::PATCH,
        format!("/admin/v1/clients/{by_api}"),
        Some(json!({"roles": ["introspector"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "roles");

    let (status, promoted) = admin_call(
        reqwest::Method::POST,
        format!("/admin/v1/clients/{by_api}/promote"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(promoted["origin"], "api");
    let (status, body) = admin_call(
        reqwest::Method::PATCH,
        format!("/admin/v1/clients/{by_api}"),
        Some(json!({"roles": ["introspector"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Only a self-registered client can be promoted.
    let (status, body) = admin_call(
        reqwest::Method::POST,
        "/admin/v1/clients/svc-admin/promote".into(),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // The CLI lists the origin and promotes to `cli`.
    let listed = ok_json(&app.db, &["client", "list"], None);
    let origin = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == by_cli.as_str())
        .map(|c| c["origin"].clone());
    assert_eq!(origin, Some(json!("registration")));
    let promoted = ok_json(&app.db, &["client", "promote", &by_cli], None);
    assert_eq!(promoted["origin"], "cli");
    let err = fails(&app.db, &["client", "promote", &by_cli]);
    assert!(err.contains("only a self-registered client"), "{err}");
    // And the CLI deletes one like any client.
    let other = client_id(&app.registered(&mcp_metadata()).await);
    ok_json(&app.db, &["client", "delete", &other], None);
    assert!(app.state.service.get_client(&other).await.is_err());
    assert_eq!(app.audit_count(Some("client.promoted")).await, 2);
}

#[tokio::test]
async fn the_rules_of_self_registered_clients_hold_on_every_write_path() {
    let app = mcp_app().await;
    let id = client_id(&app.registered(&mcp_metadata()).await);
    let service = &app.state.service;
    for (what, change) in [
        (
            "a role",
            ClientUpdate {
                roles: Some(vec!["introspector".into()]),
                ..Default::default()
            },
        ),
        (
            "the admin scope",
            ClientUpdate {
                scopes: Some(vec!["openid".into(), "admin".into()]),
                ..Default::default()
            },
        ),
        (
            "no consent",
            ClientUpdate {
                first_party: Some(true),
                ..Default::default()
            },
        ),
    ] {
        let err = service
            .update_client(&Actor::cli(), &id, change)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("promote it first"),
            "{what}: {err}"
        );
    }
}

#[tokio::test]
async fn export_and_import_carry_a_registration() {
    let source = mcp_app().await;
    let registered = source
        .registered(&json!({
            "client_name": "Agent",
            "redirect_uris": ["com.example.agent:/cb"],
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "logo_uri": "https://agent.example/logo.png",
        }))
        .await;
    let id = client_id(&registered);
    let token = registered["registration_access_token"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok_json(
        &source.db,
        &["export", "--dir", d, "--include-credentials"],
        None,
    );
    let target = mcp_app().await;
    ok_json(
        &target.db,
        &["import", "--dir", d, "--include-credentials"],
        None,
    );
    let view = target.state.service.get_client(&id).await.unwrap();
    assert_eq!(view.origin, "registration");
    assert_eq!(view.application_type.as_deref(), Some("native"));
    assert_eq!(
        view.logo_uri.as_deref(),
        Some("https://agent.example/logo.png")
    );
    // With credentials, the registration access token travels (as its digest).
    let (status, read) = target
        .manage_registration(
            reqwest::Method::GET,
            &target.url(&format!("/register/{id}")),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["application_type"], "native");
}

#[tokio::test]
async fn the_consent_page_says_a_client_registered_itself_and_where_it_leads() {
    let app = mcp_app().await;
    let id = client_id(&app.registered(&mcp_metadata()).await);
    let user = app.user("carol").await;
    let b = app.browser();
    let (r, _) = crate::helpers::follow(&app, &b, &authorize_url(&app, &id, &[MCP])).await;
    let html = r.text().await.unwrap();
    let r = crate::helpers::submit(
        &app,
        &b,
        "/login",
        &[
            ("request_id", crate::helpers::hidden(&html, "request_id")),
            ("csrf_token", crate::helpers::hidden(&html, "csrf_token")),
            ("username", user.username.clone()),
            ("password", user.password.clone()),
        ],
    )
    .await;
    let (r, url) = crate::helpers::follow(&app, &b, &crate::helpers::location(&r)).await;
    assert!(url.contains("/consent"), "{url}");
    let consent = r.text().await.unwrap();
    assert!(consent.contains("registered itself"), "{consent}");
    assert!(
        consent.contains("<strong class=\"client-host\">localhost</strong>"),
        "the redirect's host, which the registrant could not hide: {consent}"
    );
    // An operator's client says nothing of the kind.
    let web = app
        .confidential_client("web")
        .redirect_uris(&[crate::helpers::CALLBACK])
        .await;
    let url = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", web.id.as_str()),
        ("redirect_uri", crate::helpers::CALLBACK),
        ("scope", "openid"),
        ("state", "s"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let (r, url) = crate::helpers::follow(&app, &b, &url).await;
    assert!(url.contains("/consent"), "{url}");
    assert!(!r.text().await.unwrap().contains("registered itself"));
}
