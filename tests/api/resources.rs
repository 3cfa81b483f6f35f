//! RFC 8707 resource indicators and the audience of access tokens: a client names only
//! resources from its allow-list (anything else is `invalid_target`), the token's `aud`
//! is what was granted, later steps keep or narrow it, and this server's own endpoints
//! (`/userinfo`, the admin API) refuse tokens minted for another resource. The allow-list
//! is set by the CLI, the admin API and import, and survives export.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::manage::Actor;
use portcullis::manage::clients::ClientUpdate;
use serde_json::{Value, json};

use crate::cli::{fails, ok_json};
use crate::helpers::{
    TestApp, TestClient, TestDb, TestUser, access_token, post_with_basic, refresh_token,
    spawn_app_with,
};

const API: &str = "https://api.example.com/";
const DOCS: &str = "https://docs.example.com/v1";
const OTHER: &str = "https://other.example.com/";
const CALLBACK: &str = "https://app.example.com/cb";
const CHALLENGE: &str = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c";

/// The claims of a JWT, unverified (the server issued it; the test reads it).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn aud(body: &Value) -> Value {
    claims(&access_token(body))["aud"].clone()
}

fn issuer(app: &TestApp) -> String {
    app.state.config.issuer.as_str().to_owned()
}

struct Setup {
    app: TestApp,
    /// client_credentials, allowed API and DOCS.
    svc: TestClient,
    /// The code flow, password and refresh for alice, allowed API, DOCS and the issuer.
    web: TestClient,
    /// A resource server that may introspect.
    rs: TestClient,
    alice: TestUser,
}

/// An app without the client cache, so an allow-list change is seen by the next request
/// (with it, within `tokens.client_cache_secs`).
async fn uncached_app() -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.client_cache = std::time::Duration::ZERO;
    })
    .await
}

async fn setup() -> Setup {
    let app = uncached_app().await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .scope("api.read")
        .resources(&[API, DOCS])
        .await;
    let me = issuer(&app);
    let web = app
        .confidential_client("web")
        .grants(&["authorization_code", "password", "refresh_token"])
        .redirect_uris(&[CALLBACK])
        .scope("openid profile offline_access")
        .resources(&[API, DOCS, me.as_str()])
        .first_party()
        .await;
    let rs = app
        .confidential_client("rs")
        .grants(&["client_credentials"])
        .roles(&["introspector"])
        .await;
    let alice = app.user("alice").await;
    Setup {
        app,
        svc,
        web,
        rs,
        alice,
    }
}

fn cc(resources: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    form
}

/// The password grant for alice through `web`, naming `resources`.
async fn password(s: &Setup, scope: &str, resources: &[&str]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", s.alice.username.as_str()),
        ("password", s.alice.password.as_str()),
        ("scope", scope),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    s.app.token_request(&s.web, &form).await
}

async fn refresh(s: &Setup, rt: &str, resources: &[&str]) -> (u16, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    s.app.token_request(&s.web, &form).await
}

fn assert_invalid_target((status, body): (u16, Value), what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"], "invalid_target", "{what}: {body}");
}

#[tokio::test]
async fn resource_is_granted_only_from_the_allow_list() {
    let s = setup().await;
    let app = &s.app;
    // None named: the token is for this server.
    assert_eq!(aud(&app.tokens(&s.svc, &cc(&[])).await), json!(issuer(app)));
    // One: a string; several: an array; the same twice: once.
    let one = app.tokens(&s.svc, &cc(&[API])).await;
    assert_eq!(aud(&one), json!(API));
    assert_eq!(
        aud(&app.tokens(&s.svc, &cc(&[DOCS, API])).await),
        json!([API, DOCS])
    );
    assert_eq!(aud(&app.tokens(&s.svc, &cc(&[API, API])).await), json!(API));
    // Introspection says the same.
    let r = post_with_basic(
        app,
        "/introspect",
        &[("token", &access_token(&one))],
        s.rs.basic(),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["aud"], json!(API));

    // Anything not listed byte for byte, or not an absolute URI without fragment.
    for bad in [
        OTHER,
        "https://api.example.com",
        "https://API.example.com/",
        "https://api.example.com:443/",
        "https://api.example.com/#",
        "https://api.example.com/#x",
        "https://api.example.com/?",
        "https://api.example.com//",
        "https://docs.example.com/v1/",
        "https://docs.example.com/V1",
        "http://api.example.com/",
        "api",
        "/api",
        "urn:example:api",
    ] {
        assert_invalid_target(app.token_request(&s.svc, &cc(&[bad])).await, bad);
        // All or nothing: one bad resource refuses the request.
        assert_invalid_target(app.token_request(&s.svc, &cc(&[API, bad])).await, bad);
    }
    // A client with no allow-list names nothing.
    let plain = app
        .confidential_client("plain")
        .grants(&["client_credentials"])
        .await;
    assert_invalid_target(
        app.token_request(&plain, &cc(&[API])).await,
        "no allow-list",
    );

    // At /authorize: an error redirect with the state, never a code.
    for bad in [OTHER, "not a uri", "https://api.example.com/#f"] {
        let url = app.authorize_url(&[
            ("response_type", "code"),
            ("client_id", "web"),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
            ("state", "st8"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", API),
            ("resource", bad),
        ]);
        let r = app.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), 303, "{bad}");
        let location = crate::helpers::location(&r);
        assert!(location.starts_with(CALLBACK), "{location}");
        let param = |name| crate::helpers::query_param(&location, name);
        assert_eq!(param("error").as_deref(), Some("invalid_target"), "{bad}");
        assert_eq!(param("state").as_deref(), Some("st8"));
        assert_eq!(param("code"), None);
    }
}

#[tokio::test]
async fn userinfo_refuses_a_token_issued_for_another_resource() {
    let s = setup().await;
    let app = &s.app;
    let userinfo = |token: String| async move {
        let r = app
            .http
            .get(format!("{}/userinfo", app.public))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, challenge)
    };
    let me = issuer(app);
    // No resource: the issuer is the audience, and userinfo answers.
    let (_, plain) = password(&s, "openid", &[]).await;
    assert_eq!(aud(&plain), json!(me));
    assert_eq!(userinfo(access_token(&plain)).await.0, 200);
    // For another resource: invalid_token, though signed, live and with `openid`.
    let (_, other) = password(&s, "openid", &[API]).await;
    assert_eq!(aud(&other), json!(API));
    let (status, challenge) = userinfo(access_token(&other)).await;
    assert_eq!(status, 401);
    assert!(
        challenge.unwrap().contains(r#"error="invalid_token""#),
        "a Bearer invalid_token challenge"
    );
    // For both: this server is among its audiences.
    let (_, both) = password(&s, "openid", &[API, me.as_str()]).await;
    assert!(aud(&both).as_array().unwrap().contains(&json!(me)));
    assert_eq!(userinfo(access_token(&both)).await.0, 200);

    // The admin API wants this server as the only audience.
    let ops = app
        .confidential_client("ops")
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&["admin"])
        .resources(&[API, me.as_str()])
        .await;
    let admin = |form: Vec<(&'static str, &'static str)>| {
        let ops = ops.clone();
        async move {
            let mut form = form;
            form.push(("scope", "admin"));
            let token = access_token(&app.tokens(&ops, &form).await);
            app.http
                .get(format!("{}/admin/v1/clients", app.admin))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let me_static: &'static str = Box::leak(me.clone().into_boxed_str());
    assert_eq!(admin(cc(&[])).await, 200);
    assert_eq!(admin(cc(&[me_static])).await, 200);
    assert_eq!(admin(cc(&[API])).await, 401);
    assert_eq!(admin(cc(&[API, me_static])).await, 401);
}

#[tokio::test]
async fn refresh_keeps_or_narrows_resources_and_never_widens() {
    let s = setup().await;
    let scope = "openid offline_access";
    let (status, first) = password(&s, scope, &[API, DOCS]).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(aud(&first), json!([API, DOCS]));

    // Nothing named: what the grant holds.
    let (_, kept) = refresh(&s, &refresh_token(&first), &[]).await;
    assert_eq!(aud(&kept), json!([API, DOCS]));
    // A subset: narrowed, for this token; the grant keeps what it holds.
    let (_, narrowed) = refresh(&s, &refresh_token(&kept), &[API]).await;
    assert_eq!(aud(&narrowed), json!(API));
    let (_, again) = refresh(&s, &refresh_token(&narrowed), &[]).await;
    assert_eq!(aud(&again), json!([API, DOCS]));
    let rt = refresh_token(&again);

    // Beyond the grant: refused, and the refresh token is not spent by the refusal.
    assert_invalid_target(refresh(&s, &rt, &[OTHER]).await, "not allowed");
    assert_invalid_target(refresh(&s, &rt, &[API, OTHER]).await, "partly allowed");
    let me = issuer(&s.app);
    assert_invalid_target(
        refresh(&s, &rt, &[me.as_str()]).await,
        "allowed, but not in the grant",
    );
    // A grant for this server only stays so.
    let (_, own) = password(&s, scope, &[]).await;
    assert_invalid_target(refresh(&s, &refresh_token(&own), &[API]).await, "widening");

    // The allow-list as it is now bounds every refresh.
    let narrow_to = |resources: Vec<String>| ClientUpdate {
        resources: Some(resources),
        ..Default::default()
    };
    let service = &s.app.state.service;
    service
        .update_client(&Actor::cli(), "web", narrow_to(vec![API.into()]))
        .await
        .unwrap();
    assert_invalid_target(
        refresh(&s, &rt, &[DOCS]).await,
        "removed from the allow-list",
    );
    let (status, after) = refresh(&s, &rt, &[]).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(aud(&after), json!(API));
    service
        .update_client(&Actor::cli(), "web", narrow_to(vec![]))
        .await
        .unwrap();
    assert_invalid_target(
        refresh(&s, &refresh_token(&after), &[]).await,
        "nothing left of the grant's resources",
    );
}

/// Signs alice in with `browser` for `resources`; the code.
async fn code_for(s: &Setup, browser: &reqwest::Client, resources: &[&str]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "web"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid offline_access"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.extend(resources.iter().map(|r| ("resource", *r)));
    let url = s.app.authorize_url(&params);
    s.app.login(browser, &url, &s.alice).await.code()
}

async fn redeem(s: &Setup, code: &str, resources: &[&str]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    s.app.token_request(&s.web, &form).await
}

#[tokio::test]
async fn the_code_flow_grants_resources_at_redemption() {
    let s = setup().await;
    let browser = s.app.browser();

    // Named at /authorize: granted at redemption, and the grant keeps it.
    let code = code_for(&s, &browser, &[API]).await;
    let (status, tokens) = redeem(&s, &code, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(aud(&tokens), json!(API));
    // The ID token is for the client whatever the access token's audience.
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["aud"],
        json!("web")
    );
    let (_, refreshed) = refresh(&s, &refresh_token(&tokens), &[]).await;
    assert_eq!(aud(&refreshed), json!(API));

    // Named only at /token (RFC 8707 allows both): checked against the allow-list there.
    let code = code_for(&s, &browser, &[]).await;
    assert_invalid_target(redeem(&s, &code, &[OTHER]).await, "not allowed at /token");
    let (status, tokens) = redeem(&s, &code, &[DOCS]).await;
    assert_eq!(status, 200, "the refusal did not spend the code: {tokens}");
    assert_eq!(aud(&tokens), json!(DOCS));

    // Named at both: /token may narrow what /authorize named, never add to it.
    let code = code_for(&s, &browser, &[API]).await;
    assert_invalid_target(redeem(&s, &code, &[DOCS]).await, "not in the authorization");
    let code = code_for(&s, &browser, &[API, DOCS]).await;
    let (_, tokens) = redeem(&s, &code, &[DOCS]).await;
    assert_eq!(aud(&tokens), json!(DOCS));
    // What redemption granted is the grant: a refresh cannot take back API.
    let rt = refresh_token(&tokens);
    assert_invalid_target(refresh(&s, &rt, &[API]).await, "dropped at redemption");
    let (_, refreshed) = refresh(&s, &rt, &[]).await;
    assert_eq!(aud(&refreshed), json!(DOCS));
}

/// The consent page names the resources the token would be for, so the person sees where
/// their access goes and not only what it allows; a request without resources shows none.
#[tokio::test]
async fn the_consent_page_shows_the_requested_resources() {
    let s = setup().await;
    s.app
        .confidential_client("third")
        .grants(&["authorization_code"])
        .redirect_uris(&[CALLBACK])
        .scope("openid")
        .resources(&[API, DOCS])
        .await;
    let browser = s.app.browser();
    // Signed in through the first-party client: the next request goes straight to consent.
    code_for(&s, &browser, &[]).await;

    let consent_page = |resources: &'static [&'static str]| {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", "third"),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        params.extend(resources.iter().map(|r| ("resource", *r)));
        let mut url = s.app.authorize_url(&params);
        let browser = &browser;
        let public = s.app.public.clone();
        async move {
            for _ in 0..4 {
                let r = browser.get(&url).send().await.unwrap();
                if r.status() == 303 {
                    let next = crate::helpers::location(&r);
                    url = if next.starts_with('/') {
                        format!("{public}{next}")
                    } else {
                        next
                    };
                    continue;
                }
                assert_eq!(r.status(), 200, "{url}");
                return r.text().await.unwrap();
            }
            panic!("no page after four redirects");
        }
    };

    let html = consent_page(&[API]).await;
    assert!(html.contains("/consent"), "not the consent page: {html}");
    assert!(html.contains(API), "{html}");
    assert!(!html.contains(DOCS), "only what was asked for: {html}");

    let html = consent_page(&[]).await;
    assert!(html.contains("/consent"), "not the consent page: {html}");
    assert!(!html.contains("for use at"), "{html}");
    assert!(!html.contains(API), "{html}");
}

#[test]
fn cli_resource_flag_sets_and_replaces_the_allow_list() {
    let db = TestDb::new();
    let created = ok_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "Service",
            "--client-id",
            "svc",
            "--grant",
            "client_credentials",
            "--resource",
            DOCS,
            "--resource",
            API,
        ],
        None,
    );
    assert_eq!(created["resources"], json!([API, DOCS]));
    assert_eq!(
        ok_json(&db, &["client", "show", "svc"], None)["resources"],
        json!([API, DOCS])
    );
    // A list flag replaces the whole list; other settings stay.
    let updated = ok_json(&db, &["client", "update", "svc", "--resource", OTHER], None);
    assert_eq!(updated["resources"], json!([OTHER]));
    assert_eq!(updated["grant_types"], json!(["client_credentials"]));
    let updated = ok_json(&db, &["client", "update", "svc", "--name", "Renamed"], None);
    assert_eq!(
        updated["resources"],
        json!([OTHER]),
        "untouched when not named"
    );
    let cleared = ok_json(&db, &["client", "update", "svc", "--no-resources"], None);
    assert_eq!(cleared["resources"], json!([]));

    // What a request could never be granted cannot be registered.
    for bad in ["https://api.example.com/#f", "api", "urn:x"] {
        let err = fails(&db, &["client", "update", "svc", "--resource", bad]);
        assert!(err.contains("resources"), "{bad}: {err}");
    }
    fails(
        &db,
        &[
            "client",
            "update",
            "svc",
            "--resource",
            API,
            "--no-resources",
        ],
    );
    assert_eq!(
        ok_json(&db, &["client", "show", "svc"], None)["resources"],
        json!([])
    );
}

#[tokio::test]
async fn admin_api_sets_validates_and_documents_resources() {
    let app = uncached_app().await;
    let ops = app
        .confidential_client("ops")
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&["admin"])
        .await;
    let token = app.cc_token(&ops, Some("admin")).await;
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = app
            .http
            .request(method, format!("{}{path}", app.admin))
            .bearer_auth(&token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, created) = call(
        reqwest::Method::POST,
        "/admin/v1/clients",
        Some(json!({
            "client_id": "api-client",
            "client_name": "API client",
            "grant_types": ["client_credentials"],
            "resources": [DOCS, API],
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["resources"], json!([API, DOCS]));
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let client = TestClient {
        id: "api-client".into(),
        secret: Some(secret),
    };
    assert_eq!(aud(&app.tokens(&client, &cc(&[API])).await), json!(API));

    let path = "/admin/v1/clients/api-client";
    let (status, patched) = call(
        reqwest::Method::PATCH,
        path,
        Some(json!({ "resources": [OTHER] })),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["resources"], json!([OTHER]));
    // Takes effect with the next request (the client cache is off here).
    assert_invalid_target(app.token_request(&client, &cc(&[API])).await, "removed");
    assert_eq!(aud(&app.tokens(&client, &cc(&[OTHER])).await), json!(OTHER));

    // Invalid entries name the field; nothing changes.
    for bad in [
        json!(["https://api.example.com/#f"]),
        json!(["relative/path"]),
        json!([format!("https://a.example/{}", "x".repeat(2100))]),
    ] {
        let (status, body) = call(
            reqwest::Method::PATCH,
            path,
            Some(json!({ "resources": bad })),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "resources", "{body}");
    }
    let (status, _) = call(
        reqwest::Method::PATCH,
        path,
        Some(json!({ "resources": "https://api.example.com/" })),
    )
    .await;
    assert_eq!(status, 400, "a list, not a string");
    let (_, shown) = call(reqwest::Method::GET, path, None).await;
    assert_eq!(shown["resources"], json!([OTHER]));
    let (_, cleared) = call(
        reqwest::Method::PATCH,
        path,
        Some(json!({ "resources": [] })),
    )
    .await;
    assert_eq!(cleared["resources"], json!([]));

    // Documented in the OpenAPI document, for create, patch and the view.
    let doc: Value = app
        .get_admin("/admin/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    for schema in ["ClientCreate", "ClientPatch", "ClientView"] {
        let property = &doc["components"]["schemas"][schema]["properties"]["resources"];
        assert!(property.is_object(), "{schema} documents resources");
        let text = property.to_string();
        assert!(text.contains("array"), "{schema}: {text}");
    }
}

#[tokio::test]
async fn export_and_import_keep_resources_and_read_older_files() {
    let source_db = Arc::new(TestDb::new());
    let source = spawn_app_with(Arc::clone(&source_db), |_| {}).await;
    source
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .resources(&[API, DOCS])
        .await;
    source
        .confidential_client("plain")
        .grants(&["client_credentials"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let run = |db: Arc<TestDb>, args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ok_json(&db, &args, None)
        })
    };
    run(
        Arc::clone(&source_db),
        vec!["export".into(), "--dir".into(), d.clone()],
    )
    .await
    .unwrap();
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("clients.json")).unwrap())
            .unwrap();
    let svc = exported
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "svc")
        .unwrap();
    assert_eq!(svc["resources"], json!([API, DOCS]));

    // Into a fresh database: the allow-list arrives, and is honoured.
    let target_db = Arc::new(TestDb::new());
    let target = spawn_app_with(Arc::clone(&target_db), |_| {}).await;
    run(
        Arc::clone(&target_db),
        vec!["import".into(), "--dir".into(), d.clone()],
    )
    .await
    .unwrap();
    let imported = target.state.service.get_client("svc").await.unwrap();
    assert_eq!(imported.resources, vec![API.to_owned(), DOCS.to_owned()]);

    // A file written before resources existed: no field at all; it imports as none.
    let path = dir.path().join("clients.json");
    let mut older: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for client in older.as_array_mut().unwrap() {
        client.as_object_mut().unwrap().remove("resources");
    }
    std::fs::write(&path, serde_json::to_string_pretty(&older).unwrap()).unwrap();
    let old_db = Arc::new(TestDb::new());
    let old = spawn_app_with(Arc::clone(&old_db), |_| {}).await;
    run(
        Arc::clone(&old_db),
        vec!["import".into(), "--dir".into(), d],
    )
    .await
    .unwrap();
    let svc = old.state.service.get_client("svc").await.unwrap();
    assert!(svc.resources.is_empty(), "{:?}", svc.resources);
    let plain = old.state.service.get_client("plain").await.unwrap();
    assert!(plain.resources.is_empty());
}
