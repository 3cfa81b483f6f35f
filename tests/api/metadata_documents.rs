//! Client ID metadata documents (issue 21 item 4, draft-ietf-oauth-client-id-metadata-
//! document): a `client_id` that is a URL is fetched through the SSRF guard at
//! `/authorize`, checked by the registration policy, stored as a client of origin
//! `metadata_document`, cached per `Cache-Control` within bounds, and used like any client
//! after that. The documents are served by the test (`DocumentServer`, plain http on
//! loopback), which only the development setting `metadata_documents_allow_private` lets
//! the server fetch; `the_guard_refuses_documents_on_loopback_without_the_development_setting`
//! shows it refused without.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::config::{Config, MetadataDocumentsConfig, ResourcePattern};
use serde_json::{Value, json};

use crate::helpers::document_server::{Answer, DocumentServer};
use crate::helpers::{
    PKCE_CHALLENGE, PKCE_VERIFIER, TestApp, TestDb, access_token, audit_details, hidden, location,
    refresh_token, spawn_app, spawn_app_with,
};

const CALLBACK: &str = "http://localhost:33418/callback";
const MCP: &str = "https://mcp.example.com/mcp";
const PATH: &str = "/oauth/client.json";

/// Metadata documents on, with the development setting (the documents are on loopback),
/// registered clients allowed the MCP server's resources.
fn documents_on(config: &mut Config) {
    config.registration.metadata_documents = MetadataDocumentsConfig {
        enabled: true,
        allow_private: true,
        ..MetadataDocumentsConfig::default()
    };
    config.registration.allowed_resources =
        vec![ResourcePattern::parse("https://mcp.example.com/*").unwrap()];
}

async fn documents_app() -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), documents_on).await
}

/// The document an MCP client publishes at `url` (the MCP specification's example).
fn document(url: &str) -> Value {
    json!({
        "client_id": url,
        "client_name": "Example MCP Client",
        "client_uri": "https://agent.example.com",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// A server publishing a valid document at `PATH`; its URL is the client's id.
async fn published() -> (DocumentServer, String) {
    let server = DocumentServer::start().await;
    let url = server.url(PATH);
    server.answer(PATH, Answer::json(&document(&url)));
    (server, url)
}

fn authorize_url(app: &TestApp, client_id: &str) -> String {
    app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid offline_access"),
        ("state", "s1"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
        ("resource", MCP),
    ])
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A new user signs in through `client_id`; the token response.
async fn code_flow(app: &TestApp, client_id: &str) -> (u16, Value) {
    let user = app
        .user(&format!("u{}", uuid::Uuid::new_v4().simple()))
        .await;
    let browser = app.browser();
    let back = app
        .login(&browser, &authorize_url(app, client_id), &user)
        .await;
    assert!(back.url.starts_with(CALLBACK), "{}", back.url);
    assert_eq!(back.param("state").as_deref(), Some("s1"));
    let code = back.code();
    app.public_token_request(
        client_id,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", PKCE_VERIFIER),
            ("resource", MCP),
        ],
    )
    .await
}

/// `/authorize` for `client_id` in a fresh browser: the status, the Location (if any) and
/// the page.
async fn authorize(app: &TestApp, client_id: &str) -> (u16, Option<String>, String) {
    let r = app
        .browser()
        .get(authorize_url(app, client_id))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let to = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, to, r.text().await.unwrap())
}

/// `/authorize` must refuse `client_id` with an error page saying `words`, and redirect
/// nowhere.
async fn refused(app: &TestApp, client_id: &str, words: &str) {
    let (status, to, page) = authorize(app, client_id).await;
    assert_eq!(status, 400, "{client_id}: {page}");
    assert_eq!(to, None, "{client_id}: an error page, never a redirect");
    assert!(
        page.contains(words),
        "{client_id}: expected {words:?} in {page}"
    );
}

async fn stored_origin(app: &TestApp, client_id: &str) -> Option<String> {
    app.state
        .service
        .get_client(client_id)
        .await
        .ok()
        .map(|c| c.origin)
}

async fn discovery(app: &TestApp) -> Value {
    app.http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_metadata_document_client_completes_the_code_flow_with_pkce() {
    let app = documents_app().await;
    assert_eq!(
        discovery(&app).await["client_id_metadata_document_supported"],
        true
    );
    let (server, url) = published().await;

    let (status, tokens) = code_flow(&app, &url).await;
    assert_eq!(status, 200, "{tokens}");
    let access = claims(&access_token(&tokens));
    assert_eq!(access["client_id"], url.as_str());
    assert_eq!(access["aud"], MCP);
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], url.as_str());

    // Stored as a client of its own origin, with its event; fetched once for the whole
    // flow (/authorize, the pages, /token).
    assert_eq!(
        stored_origin(&app, &url).await.as_deref(),
        Some("metadata_document")
    );
    let view = app.state.service.get_client(&url).await.unwrap();
    assert_eq!(view.client_name, "Example MCP Client");
    assert_eq!(view.token_endpoint_auth_method, "none");
    assert!(view.require_pkce && !view.first_party && view.roles.is_empty());
    let events = audit_details(&app, "client.registered").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["origin"], "metadata_document");
    assert_eq!(server.hits(PATH), 1);

    // Refresh works as for any public client, without another fetch while fresh.
    let (status, refreshed) = app
        .public_token_request(
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token(&tokens).as_str()),
                ("resource", MCP),
            ],
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(server.hits(PATH), 1);

    // A second user through the same client: no second fetch, no second client.
    let (status, _) = code_flow(&app, &url).await;
    assert_eq!(status, 200);
    assert_eq!(server.hits(PATH), 1);
    assert_eq!(audit_details(&app, "client.registered").await.len(), 1);
}

#[tokio::test]
async fn metadata_documents_are_off_by_default() {
    let app = spawn_app().await;
    assert!(!app.state.config.registration.metadata_documents.enabled);
    assert!(
        discovery(&app)
            .await
            .get("client_id_metadata_document_supported")
            .is_none()
    );
    let (server, url) = published().await;
    refused(&app, &url, "not known").await;
    assert_eq!(server.hits(PATH), 0, "nothing is fetched");
}

#[tokio::test]
async fn the_guard_refuses_documents_on_loopback_without_the_development_setting() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        documents_on(c);
        c.registration.metadata_documents.allow_private = false;
    })
    .await;
    let (server, url) = published().await;
    // Plain http is not a client ID URL without the development setting...
    refused(&app, &url, "not an https URL").await;
    // ... and https to a loopback host, by address or by name, is never fetched. The page
    // says so without naming the address (it reads the same as a name that does not
    // resolve, so nobody learns what this server's own names resolve to).
    for id in [
        format!("https://127.0.0.1:{}{PATH}", server.port),
        format!("https://localhost:{}{PATH}", server.port),
        format!("https://[::1]:{}{PATH}", server.port),
    ] {
        let (status, to, page) = authorize(&app, &id).await;
        assert_eq!((status, to), (400, None), "{id}");
        assert!(
            page.contains("does not resolve to public internet addresses"),
            "{id}: {page}"
        );
        assert!(
            !page.contains("127.0.0.1)") && !page.contains("::1)"),
            "{page}"
        );
    }
    assert_eq!(server.hits(PATH), 0);
    assert_eq!(stored_origin(&app, &url).await, None);
}

/// Every way a document is refused at /authorize: a page that says why, no redirect to
/// the unverified redirect URI, no client stored.
#[tokio::test]
async fn refused_documents_get_an_error_page_never_a_redirect() {
    let app = documents_app().await;
    let server = DocumentServer::start().await;
    let big = {
        let mut doc = document(&server.url("/big.json"));
        doc["client_name"] = json!("x".repeat(100));
        doc["padding"] = json!("x".repeat(6 * 1024));
        doc
    };
    let cases: Vec<(&str, Answer, &str)> = vec![
        (
            "/mismatch.json",
            Answer::json(&document(&server.url("/other.json"))),
            "not exactly the URL it was fetched from",
        ),
        (
            "/bad-redirect.json",
            Answer::json(&{
                let mut doc = document(&server.url("/bad-redirect.json"));
                doc["redirect_uris"] = json!(["http://agent.example.com/callback"]);
                doc
            }),
            "registration policy",
        ),
        (
            "/javascript.json",
            Answer::json(&{
                let mut doc = document(&server.url("/javascript.json"));
                doc["redirect_uris"] = json!(["javascript:alert(1)"]);
                doc
            }),
            "registration policy",
        ),
        (
            "/secret.json",
            Answer::json(&{
                let mut doc = document(&server.url("/secret.json"));
                doc["token_endpoint_auth_method"] = json!("client_secret_basic");
                doc
            }),
            "shared secret",
        ),
        (
            "/admin.json",
            Answer::json(&{
                let mut doc = document(&server.url("/admin.json"));
                doc["scope"] = json!("openid admin");
                doc
            }),
            "registration policy",
        ),
        ("/big.json", Answer::json(&big), "larger than 5120 bytes"),
        (
            "/moved.json",
            Answer::redirect(&server.url(PATH)),
            "redirects are not followed",
        ),
        ("/missing.json", Answer::status(404), "answered 404"),
        (
            "/page.json",
            {
                let mut page = Answer::status(200);
                page.body = b"<html>hello</html>".to_vec();
                page
            },
            "not a JSON object",
        ),
    ];
    server.answer(PATH, Answer::json(&document(&server.url(PATH))));
    for (path, answer, words) in cases {
        server.answer(path, answer);
        let url = server.url(path);
        refused(&app, &url, words).await;
        assert_eq!(stored_origin(&app, &url).await, None, "{path}");
    }
    // The redirect was not followed.
    assert_eq!(server.hits(PATH), 0);
    // A client_id that is not a client ID URL in normal form is refused before a fetch.
    refused(
        &app,
        &format!("http://127.0.0.1:{}/oauth/../client.json", server.port),
        "not a valid client ID URL",
    )
    .await;
    refused(&app, &format!("{}#x", server.url(PATH)), "fragment").await;
    assert_eq!(server.hits(PATH), 0);
    assert_eq!(audit_details(&app, "client.registered").await.len(), 0);
}

#[tokio::test]
async fn a_slow_document_is_refused_after_the_time_limit() {
    let app = documents_app().await;
    let server = DocumentServer::start().await;
    let url = server.url(PATH);
    server.answer(
        PATH,
        Answer::json(&document(&url)).delayed(Duration::from_secs(8)),
    );
    let started = std::time::Instant::now();
    refused(&app, &url, "did not answer within 5000 ms").await;
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn documents_are_cached_per_max_age_within_the_bounds() {
    let app = documents_app().await;
    let (min, max) = (300, 86_400);
    let docs = app.state.config.registration.metadata_documents;
    assert_eq!((docs.min_cache_secs, docs.max_cache_secs), (min, max));
    let server = DocumentServer::start().await;
    let url = server.url(PATH);
    let other = "http://localhost:40000/callback";
    server.answer(
        PATH,
        Answer::json(&document(&url)).header("Cache-Control", "max-age=600"),
    );
    let (status, to, _) = authorize(&app, &url).await;
    assert_eq!((status, to.is_some()), (303, true));
    app.clock.advance(599);
    authorize(&app, &url).await;
    assert_eq!(server.hits(PATH), 1, "fresh for max-age");

    // Stale: fetched again, and a changed document changes the client.
    let mut changed = document(&url);
    changed["redirect_uris"] = json!([other]);
    server.answer(
        PATH,
        Answer::json(&changed).header("Cache-Control", "no-store"),
    );
    app.clock.advance(1);
    refused(&app, &url, "not registered for this application").await;
    assert_eq!(server.hits(PATH), 2);
    let view = app.state.service.get_client(&url).await.unwrap();
    assert_eq!(view.redirect_uris, [other]);
    assert_eq!(
        audit_details(&app, "client.metadata_document_updated")
            .await
            .len(),
        1
    );
    // `no-store` still gets the minimum.
    app.clock.advance(min - 1);
    refused(&app, &url, "not registered for this application").await;
    assert_eq!(server.hits(PATH), 2);
    app.clock.advance(1);
    refused(&app, &url, "not registered for this application").await;
    assert_eq!(server.hits(PATH), 3);
    // Unchanged, it is not written again.
    assert_eq!(
        audit_details(&app, "client.metadata_document_updated")
            .await
            .len(),
        1
    );

    // A max-age beyond the maximum gets the maximum.
    server.answer(
        PATH,
        Answer::json(&document(&url)).header("Cache-Control", "max-age=99999999"),
    );
    app.clock.advance(min);
    authorize(&app, &url).await;
    assert_eq!(server.hits(PATH), 4);
    app.clock.advance(max - 1);
    authorize(&app, &url).await;
    assert_eq!(server.hits(PATH), 4);
    app.clock.advance(1);
    authorize(&app, &url).await;
    assert_eq!(server.hits(PATH), 5);
}

/// Users consented to a client that sent them back where its document said; when the
/// document sends them elsewhere (its host taken over, say), every user is asked again.
#[tokio::test]
async fn a_document_that_moves_its_redirect_uris_forgets_every_consent() {
    let app = documents_app().await;
    let (server, url) = published().await;
    let (status, _) = code_flow(&app, &url).await;
    assert_eq!(status, 200);
    let (status, _) = code_flow(&app, &url).await;
    assert_eq!(status, 200);
    let consents = |app: &TestApp| {
        use diesel::prelude::*;
        use portcullis::store::schema::consents;
        let store = app.state.store.clone();
        let id = url.clone();
        async move {
            store
                .run(move |conn| {
                    Ok(consents::table
                        .filter(consents::client_id.eq(id))
                        .count()
                        .get_result::<i64>(conn)?)
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(consents(&app).await, 2);

    // The name changes: consent stays.
    let mut renamed = document(&url);
    renamed["client_name"] = json!("Example MCP Client 2");
    server.answer(PATH, Answer::json(&renamed));
    app.clock.advance(300);
    authorize(&app, &url).await;
    assert_eq!(consents(&app).await, 2);
    // The redirect URIs change: consent is forgotten, in the same write.
    let mut moved = renamed.clone();
    moved["redirect_uris"] = json!(["https://elsewhere.example/callback"]);
    server.answer(PATH, Answer::json(&moved));
    app.clock.advance(300);
    authorize(&app, &url).await;
    assert_eq!(consents(&app).await, 0);
    let updates = audit_details(&app, "client.metadata_document_updated").await;
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["consents_forgotten"], 0);
    assert_eq!(updates[1]["consents_forgotten"], 2);
}

#[tokio::test]
async fn the_login_and_consent_pages_show_the_documents_host() {
    let app = documents_app().await;
    let (server, url) = published().await;
    let host = format!("127.0.0.1:{}", server.port);
    let user = app.user("alice").await;
    let browser = app.browser();
    let r = browser.get(authorize_url(&app, &url)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let login = browser
        .get(format!("{}{}", app.public, location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login.contains(&format!("<strong class=\"client-host\">{host}</strong>")),
        "{login}"
    );
    let r = browser
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("request_id", hidden(&login, "request_id")),
            ("csrf_token", hidden(&login, "csrf_token")),
            ("username", user.username.clone()),
            ("password", user.password.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let consent = browser
        .get(format!("{}{}", app.public, location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(consent.contains("Allow access?"), "{consent}");
    assert!(
        consent.contains(&format!(
            "<strong class=\"client-host\">{host}</strong> would like to:"
        )),
        "{consent}"
    );
    assert!(
        consent.contains("calls itself “Example MCP Client”"),
        "{consent}"
    );
    assert!(consent.contains(MCP), "the resource is shown: {consent}");
}

/// At the token endpoint a client from a document is one that went through /authorize: a
/// URL never stored is not fetched, and a stored document gone stale and now failing is
/// `invalid_client`.
#[tokio::test]
async fn a_failing_document_is_invalid_client_at_the_token_endpoint() {
    let app = documents_app().await;
    let (server, url) = published().await;
    let (status, tokens) = code_flow(&app, &url).await;
    assert_eq!(status, 200, "{tokens}");

    let stranger = server.url("/never-seen.json");
    let (status, body) = app
        .public_token_request(
            &stranger,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(server.hits("/never-seen.json"), 0);

    server.answer(PATH, Answer::status(404));
    app.clock.advance(301);
    let (status, body) = app
        .public_token_request(
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token(&tokens).as_str()),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert_eq!(server.hits(PATH), 2);
    // Back again, the client works again (its grants were kept).
    server.answer(PATH, Answer::json(&document(&url)));
    let (status, body) = app
        .public_token_request(
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token(&tokens).as_str()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn clients_from_documents_are_bounded_and_idle_ones_deleted() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        documents_on(c);
        c.registration.max_clients = 1;
    })
    .await;
    let (server, url) = published().await;
    let second = server.url("/second.json");
    server.answer("/second.json", Answer::json(&document(&second)));
    let (status, _, _) = authorize(&app, &url).await;
    assert_eq!(status, 303);
    // Beyond `registration.max_clients`: the service is busy, nothing is stored.
    let (status, to, _) = authorize(&app, &second).await;
    assert_eq!((status, to), (503, None));
    assert_eq!(stored_origin(&app, &second).await, None);

    // Never used for `registration.idle_days`: the janitor deletes it like a registration.
    let (store, config) = (&app.state.store, &app.state.config);
    let idle = config.registration.idle_secs;
    let report = portcullis::janitor::purge(store, config, crate::helpers::T0 + idle + 1)
        .await
        .unwrap();
    assert_eq!(report.purged("clients"), 1);
    assert_eq!(stored_origin(&app, &url).await, None);
    let events = audit_details(&app, "client.idle_deleted").await;
    assert_eq!(events[0]["origin"], "metadata_document");
}

/// Operators find a document's client by its URL in the admin API (percent-encoded in the
/// path) and may promote it: it is then theirs, used as stored and never fetched again.
#[tokio::test]
async fn a_promoted_document_client_is_the_operators_and_never_fetched() {
    // No client cache, so the promotion is seen at once (it is within 5 s otherwise).
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        documents_on(c);
        c.tokens.client_cache = Duration::ZERO;
    })
    .await;
    let (server, url) = published().await;
    let (status, _, _) = authorize(&app, &url).await;
    assert_eq!(status, 303);
    let admin = app
        .confidential_client("svc-admin")
        .grants(&["client_credentials"])
        .scope("admin")
        .roles(&["admin"])
        .await;
    let bearer = app.cc_token(&admin, Some("admin")).await;
    let encoded: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let r = app
        .http
        .get(format!("{}/admin/v1/clients/{encoded}", app.admin))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["client_id"], url.as_str());
    assert_eq!(view["origin"], "metadata_document");
    let r = app
        .http
        .post(format!("{}/admin/v1/clients/{encoded}/promote", app.admin))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["origin"], "api");

    // Its document is gone, and long stale: the operator's client works as stored (held
    // to its own resources now, of which it has none, so no `resource` here).
    server.answer(PATH, Answer::status(404));
    app.clock.advance(2 * 86_400);
    let r = app
        .browser()
        .get(app.authorize_url(&[
            ("response_type", "code"),
            ("client_id", &url),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
            ("code_challenge", PKCE_CHALLENGE),
            ("code_challenge_method", "S256"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("/login"), "{}", location(&r));
    assert_eq!(server.hits(PATH), 1);
}
