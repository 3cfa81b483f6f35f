//! An MCP client against Portcullis and `examples/resource_server.rs`, from nothing but
//! the resource's URL, step by step as the MCP authorization specification has clients do
//! it (2025-11-25 and 2026-07-28 revisions): the resource's 401 names its metadata (RFC
//! 9728), which names the issuer; the issuer's metadata (RFC 8414, path-aware URL first)
//! offers S256 and registration (RFC 7591); the code flow with PKCE and `resource` (RFC
//! 8707), checking `iss` (RFC 9207); the token's audience is the resource, which accepts
//! it and refuses a token for anything else; refresh keeps the audience.

use std::net::TcpListener;
use std::sync::Arc;

use base64::Engine;
use portcullis::clock::Clock;
use portcullis::config::{Issuer, RegistrationMode};
use serde_json::{Value, json};

use crate::helpers::{
    LOOPBACK, PKCE_CHALLENGE, PKCE_VERIFIER, TestApp, TestDb, mcp_metadata, registration_settings,
    spawn_app_with,
};
use crate::resource_server::example::{ResourceServer, Settings, serve};

/// The issuer has a path, so the path-aware RFC 8414 location differs from the root one.
const ISSUER_PATH: &str = "/auth";
/// The scope the resource requires (and offers in its metadata).
const SCOPE: &str = "mcp:tools";

/// Portcullis with open registration for resources on the example's origin, and the
/// example serving `resource` (`http://127.0.0.1:PORT/local/hello`, a resource with a
/// path like an MCP server's `/mcp`). Returns the app and the resource's URL.
async fn portcullis_and_resource() -> (TestApp, String) {
    portcullis_and_resource_with(|_| {}).await
}

/// `portcullis_and_resource` with the configuration changed further by `tweak`.
async fn portcullis_and_resource_with(
    tweak: impl FnOnce(&mut portcullis::config::Config),
) -> (TestApp, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let pattern = format!("{origin}/*");
    let app = spawn_app_with(Arc::new(TestDb::new()), move |c| {
        c.issuer = Issuer::parse(&format!("{}{ISSUER_PATH}", c.issuer)).unwrap();
        registration_settings(c, RegistrationMode::Open, &[&pattern]);
        c.registration.allowed_scopes = ["openid", "offline_access", SCOPE]
            .map(str::to_owned)
            .to_vec();
        tweak(c);
    })
    .await;
    let resource = format!("{origin}/local/hello");
    let clock = app.clock.clone();
    let settings = Settings {
        issuer: issuer(&app),
        audience: resource.clone(),
        required_scope: SCOPE.into(),
        introspection_client: None,
    };
    let rs = ResourceServer::discover(settings, Arc::new(move || clock.now()))
        .await
        .unwrap();
    tokio::spawn(serve(listener, rs).unwrap());
    (app, resource)
}

fn issuer(app: &TestApp) -> String {
    app.state.config.issuer.as_str().to_owned()
}

async fn get_json(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// The value of `name="..."` in a `WWW-Authenticate` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = challenge.find(&marker)? + marker.len();
    challenge[start..].split('"').next().map(str::to_owned)
}

/// Calls the resource; the status and the challenge.
async fn call(resource: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(resource);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), challenge)
}

/// The claims of a JWT, unverified (the resource server verifies; the test only reads).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// What the client learnt by discovery.
struct Discovered {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    registration_endpoint: String,
}

/// Steps 1 to 3: from the resource URL to the authorization server's metadata.
async fn discover(resource: &str) -> Discovered {
    // 1. An unauthenticated call: 401 naming the metadata, no error code (none was sent).
    let (status, challenge) = call(resource, None).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert_eq!(challenge_param(&challenge, "error"), None, "{challenge}");
    let metadata_url = challenge_param(&challenge, "resource_metadata").unwrap();
    // The path-aware location (RFC 9728 section 3.1), where clients look first.
    let origin = resource.trim_end_matches("/local/hello");
    assert_eq!(
        metadata_url,
        format!("{origin}/.well-known/oauth-protected-resource/local/hello")
    );

    // 2. Protected resource metadata: `resource` is the URL called, compared as a string
    // (RFC 9728 section 3.3), and names the issuer.
    let prm = get_json(&metadata_url).await;
    assert_eq!(prm["resource"], resource);
    assert_eq!(prm["scopes_supported"], json!([SCOPE]));
    assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();

    // 3. Authorization server metadata, RFC 8414's path-aware URL first (what MCP clients
    // try before OpenID discovery); its `issuer` must be the one the URL was built from.
    let parsed = url::Url::parse(&issuer).unwrap();
    let as_metadata_url = format!(
        "{}/.well-known/oauth-authorization-server{}",
        parsed.origin().ascii_serialization(),
        parsed.path().trim_end_matches('/')
    );
    assert!(as_metadata_url.ends_with(ISSUER_PATH), "{as_metadata_url}");
    let asm = get_json(&as_metadata_url).await;
    assert_eq!(asm["issuer"], issuer);
    // Without S256 an MCP client refuses to go on.
    assert!(
        asm["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("S256")),
        "{asm}"
    );
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
    // OpenID discovery under the issuer says the same.
    let oidc = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(oidc["issuer"], issuer);
    assert_eq!(oidc["registration_endpoint"], asm["registration_endpoint"]);
    let endpoint = |name: &str| asm[name].as_str().unwrap().to_owned();
    Discovered {
        authorization_endpoint: endpoint("authorization_endpoint"),
        token_endpoint: endpoint("token_endpoint"),
        registration_endpoint: endpoint("registration_endpoint"),
        issuer,
    }
}

/// The code flow with PKCE and `resource`, as the user `user`: the token response.
async fn authorize(
    app: &TestApp,
    browser: &reqwest::Client,
    found: &Discovered,
    client_id: &str,
    resource: &str,
    user: &crate::helpers::TestUser,
) -> Value {
    let mut url = url::Url::parse(&found.authorization_endpoint).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", LOOPBACK)
        .append_pair("scope", &format!("{SCOPE} offline_access"))
        .append_pair("state", "s-1")
        .append_pair("code_challenge", PKCE_CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", resource);
    let back = app.login(browser, url.as_str(), user).await;
    assert!(back.url.starts_with(LOOPBACK), "{}", back.url);
    assert_eq!(back.param("state").as_deref(), Some("s-1"));
    // RFC 9207: 2026-07-28 clients refuse a response without the right `iss`.
    assert_eq!(back.param("iss"), Some(found.issuer.clone()));
    let r = reqwest::Client::new()
        .post(&found.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", back.code().as_str()),
            ("redirect_uri", LOOPBACK),
            ("code_verifier", PKCE_VERIFIER),
            ("client_id", client_id),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn refresh(
    found: &Discovered,
    client_id: &str,
    refresh: &str,
    resource: &str,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(&found.token_endpoint)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client_id),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn an_mcp_client_finds_registers_and_calls_from_the_resource_url_alone() {
    let (app, resource) = portcullis_and_resource().await;
    let user = app.user("alice").await;
    let found = discover(&resource).await;
    assert_eq!(found.issuer, issuer(&app));

    // 4. Dynamic registration as SDK clients do it: public, code + refresh, loopback.
    let r = reqwest::Client::new()
        .post(&found.registration_endpoint)
        .json(&mcp_metadata())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let registered: Value = r.json().await.unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    let client_id = registered["client_id"].as_str().unwrap();

    // 5. The code flow naming the resource at /authorize and /token.
    let browser = app.browser();
    let tokens = authorize(&app, &browser, &found, client_id, &resource, &user).await;
    let access = tokens["access_token"].as_str().unwrap();
    let at = claims(access);
    assert_eq!(at["aud"], resource);
    assert_eq!(at["sub"], user.id);
    assert_eq!(at["iss"], found.issuer);

    // 6. The resource accepts it.
    let r = reqwest::Client::new()
        .get(&resource)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"hello": user.id, "via": "local"})
    );

    // A token for another resource the client may also name (same origin, another path)
    // is refused by this one: 401 invalid_token, still naming the metadata.
    let other = resource.replace("/local/hello", "/other");
    let elsewhere = authorize(&app, &browser, &found, client_id, &other, &user).await;
    let elsewhere_at = elsewhere["access_token"].as_str().unwrap();
    assert_eq!(claims(elsewhere_at)["aud"], other);
    let (status, challenge) = call(&resource, Some(elsewhere_at)).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge_param(&challenge, "error").as_deref(),
        Some("invalid_token")
    );
    assert_eq!(
        challenge_param(&challenge, "error_description").as_deref(),
        Some("the token is for another audience")
    );
    assert!(challenge_param(&challenge, "resource_metadata").is_some());

    // 7. Refresh with the same resource: the new access token has the same audience.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    // A refresh may not widen to a resource the grant was not for.
    let (status, body) = refresh(&found, client_id, refresh_token, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, refreshed) = refresh(&found, client_id, refresh_token, &resource).await;
    assert_eq!(status, 200, "{refreshed}");
    let renewed = refreshed["access_token"].as_str().unwrap();
    assert_eq!(claims(renewed)["aud"], resource);
    assert_eq!(call(&resource, Some(renewed)).await.0, 200);
}

/// The same client, introducing itself with a client ID metadata document instead of
/// registering (what MCP clients prefer when the server offers it): the document is served
/// by the test, on loopback, which the development setting lets the server fetch.
#[tokio::test]
async fn an_mcp_client_with_a_metadata_document_calls_from_the_resource_url_alone() {
    use crate::helpers::document_server::{Answer, DocumentServer};
    let (app, resource) = portcullis_and_resource_with(|c| {
        c.registration.metadata_documents = portcullis::config::MetadataDocumentsConfig {
            enabled: true,
            allow_private: true,
            ..Default::default()
        };
    })
    .await;
    let user = app.user("alice").await;
    let found = discover(&resource).await;
    // 4. The server offers metadata documents, so the client uses one.
    let oidc = get_json(&format!(
        "{}/.well-known/openid-configuration",
        found.issuer
    ))
    .await;
    assert_eq!(oidc["client_id_metadata_document_supported"], true);
    let server = DocumentServer::start().await;
    let client_id = server.url("/oauth/client.json");
    server.answer(
        "/oauth/client.json",
        Answer::json(&json!({
            "client_id": client_id,
            "client_name": "Example MCP client",
            "redirect_uris": [LOOPBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })),
    );

    // 5-7. The code flow, the call, the refresh: as for a registered client.
    let browser = app.browser();
    let tokens = authorize(&app, &browser, &found, &client_id, &resource, &user).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["aud"], resource);
    assert_eq!(claims(access)["client_id"], client_id.as_str());
    assert_eq!(call(&resource, Some(access)).await.0, 200);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = refresh(&found, &client_id, refresh_token, &resource).await;
    assert_eq!(status, 200, "{refreshed}");
    let renewed = refreshed["access_token"].as_str().unwrap();
    assert_eq!(call(&resource, Some(renewed)).await.0, 200);
    assert_eq!(
        server.hits("/oauth/client.json"),
        1,
        "fetched once, then cached"
    );
}
