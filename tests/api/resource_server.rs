//! `examples/resource_server.rs` against a real Portcullis: the integration we document
//! for users, run as they would run it.

use std::net::TcpListener;
use std::sync::Arc;

use portcullis::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::{T0, TestApp, TestDb, spawn_app, spawn_app_with};

#[allow(dead_code)] // `main` and the wall clock are for `cargo run --example`
#[path = "../../examples/resource_server.rs"]
pub mod example;

use example::{ClientCredentials, ResourceServer, Settings, serve};

/// The API's identifier: what callers pass as `resource` and find in `aud`.
const AUDIENCE: &str = "https://api.example.com";

/// Where the API's RFC 9728 metadata is: every challenge names it.
const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource";

/// Another API the callers may also ask tokens for.
const OTHER_API: &str = "https://other.example.com";

/// A client_credentials client that may ask for tokens for the API (and another); its
/// secret.
async fn confidential(app: &TestApp, id: &str, scopes: &[&str], roles: &[&str]) -> String {
    app.confidential_client(id)
        .grants(&["client_credentials"])
        .scopes(scopes)
        .roles(roles)
        .resources(&[AUDIENCE, OTHER_API])
        .await
        .secret()
        .to_owned()
}

/// A client_credentials access token; `resource` (RFC 8707) sets its `aud`.
async fn token(app: &TestApp, secret: &str, scope: &str, resource: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
    form.extend(resource.map(|r| ("resource", r)));
    let r = app
        .http
        .post(format!("{}/token", app.public))
        .basic_auth("api-caller", Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Starts the example on port 0, sharing Portcullis' test clock; returns its base URL.
async fn start_rs(app: &TestApp, introspection_client: Option<(&str, &str)>) -> String {
    let clock = app.clock.clone();
    let settings = Settings {
        issuer: app.public.clone(),
        audience: AUDIENCE.into(),
        required_scope: "api.read".into(),
        introspection_client: introspection_client.map(|(id, secret)| ClientCredentials {
            client_id: id.into(),
            client_secret: secret.to_owned().into(),
        }),
    };
    let rs = ResourceServer::discover(settings, Arc::new(move || clock.now()))
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, rs).unwrap());
    url
}

/// Status, `WWW-Authenticate` and JSON body (Null when empty).
async fn get(url: String, authorization: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, challenge, body)
}

fn invalid_token(description: &str) -> (u16, Option<String>, Value) {
    (
        401,
        Some(format!(
            r#"Bearer realm="example-api", resource_metadata="{METADATA}", error="invalid_token", error_description="{description}""#
        )),
        json!({"error": "invalid_token", "error_description": description}),
    )
}

/// Claims as Portcullis would put them in an access token for this API, valid at T0.
fn claims(app: &TestApp) -> Value {
    json!({
        "iss": app.public, "sub": "someone", "aud": AUDIENCE, "client_id": "api-caller",
        "scope": "api.read", "exp": T0 + 300, "iat": T0, "jti": "j1",
    })
}

#[tokio::test]
async fn resource_server_validates_access_tokens_locally() {
    let app = spawn_app().await;
    let secret = confidential(&app, "api-caller", &["api.read", "api.write"], &[]).await;
    let rs = start_rs(&app, None).await;
    let hello = format!("{rs}/local/hello");
    let good = token(&app, &secret, "api.read", Some(AUDIENCE)).await;

    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {good}"))).await,
        (
            200,
            None,
            json!({"hello": "client:api-caller", "via": "local"})
        )
    );
    // The scheme is case-insensitive.
    assert_eq!(
        get(hello.clone(), Some(&format!("bearer {good}"))).await.0,
        200
    );

    // No bearer credentials: a bare challenge, no error code (RFC 6750 section 3.1).
    let bare = (
        401,
        Some(format!(
            r#"Bearer realm="example-api", resource_metadata="{METADATA}""#
        )),
        Value::Null,
    );
    assert_eq!(get(hello.clone(), None).await, bare);
    assert_eq!(get(hello.clone(), Some("Basic YTpi")).await, bare);

    assert_eq!(
        get(hello.clone(), Some("Bearer not-a-jwt")).await,
        invalid_token("the token is not a well-formed JWT")
    );
    assert_eq!(
        get(hello.clone(), Some("Bearer a\"b")).await,
        invalid_token("the token is malformed")
    );
    // One character of the signature changed.
    let mut tampered = good.clone();
    let at = good.rfind('.').unwrap() + 10;
    let swap = if &good[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, swap);
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {tampered}"))).await,
        invalid_token("the token's signature or claims are invalid")
    );

    // Valid, but without the scope this API needs: 403.
    let write_only = token(&app, &secret, "api.write", Some(AUDIENCE)).await;
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {write_only}"))).await,
        (
            403,
            Some(format!(
                r#"Bearer realm="example-api", resource_metadata="{METADATA}", error="insufficient_scope", error_description="the token lacks the scope this resource needs", scope="api.read""#
            )),
            json!({"error": "insufficient_scope", "error_description": "the token lacks the scope this resource needs"})
        )
    );

    // Without `resource` the audience is the issuer; another API's token is no better.
    for resource in [None, Some(OTHER_API)] {
        let elsewhere = token(&app, &secret, "api.read", resource).await;
        assert_eq!(
            get(hello.clone(), Some(&format!("Bearer {elsewhere}"))).await,
            invalid_token("the token is for another audience"),
            "{resource:?}"
        );
    }

    // Signed by the issuer's key, but an ID token (`typ: JWT`), not an access token.
    let id_token = app.state.keys.sign("JWT", &claims(&app)).unwrap();
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {id_token}"))).await,
        invalid_token("the token is not an access token")
    );
    let signed = app.state.keys.sign("at+jwt", &claims(&app)).unwrap();
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {signed}")))
            .await
            .0,
        200
    );
    let mut other_issuer = claims(&app);
    other_issuer["iss"] = json!("https://evil.example.com");
    let other_issuer = app.state.keys.sign("at+jwt", &other_issuer).unwrap();
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {other_issuer}"))).await,
        invalid_token("the token is from another issuer")
    );
    let mut expired = claims(&app);
    expired["exp"] = json!(T0 - 31);
    let expired = app.state.keys.sign("at+jwt", &expired).unwrap();
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {expired}"))).await,
        invalid_token("the token has expired")
    );

    // Key rotation: the new key's `kid` is unknown to the cached JWKS. The refetch is
    // rate-limited (the cache was filled at T0), so at first the token is refused...
    app.state.keys.rotate(T0, true).await.unwrap();
    let rotated = token(&app, &secret, "api.read", Some(AUDIENCE)).await;
    assert_ne!(
        jsonwebtoken::decode_header(&rotated).unwrap().kid,
        jsonwebtoken::decode_header(&good).unwrap().kid
    );
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {rotated}"))).await,
        invalid_token("the token's signing key is unknown")
    );
    // ...and once the interval has passed, one refetch finds it; the old key still works.
    app.clock.advance(61);
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {rotated}")))
            .await
            .0,
        200
    );
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {good}"))).await.0,
        200
    );
}

#[tokio::test]
async fn resource_server_fails_closed_when_portcullis_is_unreachable() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.shutdown_delay = std::time::Duration::ZERO;
    })
    .await;
    let secret = confidential(&app, "api-caller", &["api.read"], &[]).await;
    let rs_secret = confidential(&app, "rs", &[], &["introspector"]).await;
    let rs = start_rs(&app, Some(("rs", &rs_secret))).await;
    let unconfigured = start_rs(&app, None).await;
    let good = format!(
        "Bearer {}",
        token(&app, &secret, "api.read", Some(AUDIENCE)).await
    );

    // No token: refused without asking Portcullis.
    assert_eq!(get(format!("{rs}/introspected/hello"), None).await.0, 401);
    // No client to introspect with: never let the request through.
    let unavailable = (503, None, json!({"error": "temporarily_unavailable"}));
    assert_eq!(
        get(format!("{unconfigured}/introspected/hello"), Some(&good)).await,
        unavailable
    );

    app.shutdown.shutdown();
    app.server.await.unwrap().unwrap();
    assert_eq!(
        get(format!("{rs}/introspected/hello"), Some(&good)).await,
        unavailable
    );
    // Local validation needs only the cached keys.
    assert_eq!(
        get(format!("{rs}/local/hello"), Some(&good)).await,
        (
            200,
            None,
            json!({"hello": "client:api-caller", "via": "local"})
        )
    );
}

#[tokio::test]
async fn resource_server_introspects_and_sees_revocation() {
    let app = spawn_app().await;
    let secret = confidential(&app, "api-caller", &["api.read", "api.write"], &[]).await;
    let rs_secret = confidential(&app, "rs", &[], &["introspector"]).await;
    let rs = start_rs(&app, Some(("rs", &rs_secret))).await;
    let hello = format!("{rs}/introspected/hello");
    let good = token(&app, &secret, "api.read", Some(AUDIENCE)).await;
    let bearer = format!("Bearer {good}");

    assert_eq!(
        get(hello.clone(), Some(&bearer)).await,
        (
            200,
            None,
            json!({"hello": "client:api-caller", "via": "introspection"})
        )
    );
    assert_eq!(
        get(hello.clone(), Some("Bearer not-a-jwt")).await,
        invalid_token("the token is not active")
    );
    let write_only = token(&app, &secret, "api.write", Some(AUDIENCE)).await;
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {write_only}")))
            .await
            .0,
        403
    );
    let elsewhere = token(&app, &secret, "api.read", None).await;
    assert_eq!(
        get(hello.clone(), Some(&format!("Bearer {elsewhere}"))).await,
        invalid_token("the token is for another audience")
    );

    // RFC 7009: the token's own client revokes it.
    let r = app
        .http
        .post(format!("{}/revoke", app.public))
        .basic_auth("api-caller", Some(&secret))
        .form(&[("token", good.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        get(hello.clone(), Some(&bearer)).await,
        invalid_token("the token is not active")
    );
    // The documented gap: local validation cannot know until `exp`.
    assert_eq!(get(format!("{rs}/local/hello"), Some(&bearer)).await.0, 200);

    // Portcullis refusing the resource server's own credentials is a 503, not a 401.
    let misconfigured = start_rs(&app, Some(("rs", "pcs_wrong"))).await;
    assert_eq!(
        get(format!("{misconfigured}/introspected/hello"), Some(&bearer))
            .await
            .0,
        503
    );
}

/// RFC 9728: the metadata sits at the well-known path followed by the resource's own path,
/// names the resource exactly as configured and Portcullis as its authorization server.
#[tokio::test]
async fn resource_server_publishes_protected_resource_metadata() {
    use example::resource_metadata_location;
    assert_eq!(
        resource_metadata_location("https://api.example.com").unwrap(),
        (
            METADATA.to_owned(),
            "/.well-known/oauth-protected-resource".to_owned()
        )
    );
    assert_eq!(
        resource_metadata_location("https://mcp.example.com:8443/mcp/v1").unwrap(),
        (
            "https://mcp.example.com:8443/.well-known/oauth-protected-resource/mcp/v1".to_owned(),
            "/.well-known/oauth-protected-resource/mcp/v1".to_owned()
        )
    );
    for bad in [
        "not a url",
        "https://api.example.com/?x=1",
        "https://api.example.com/#f",
    ] {
        assert!(resource_metadata_location(bad).is_err(), "{bad}");
    }

    let app = spawn_app().await;
    let rs = start_rs(&app, None).await;
    let r = reqwest::get(format!("{rs}/.well-known/oauth-protected-resource"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({
            "resource": AUDIENCE,
            "authorization_servers": [app.public],
            "bearer_methods_supported": ["header"],
            "scopes_supported": ["api.read"],
            "resource_name": "example-api",
        })
    );
    // Only the resource's own location: nothing at a path it does not have.
    let r = reqwest::get(format!(
        "{rs}/.well-known/oauth-protected-resource/local/hello"
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}
