//! An issuer with a path (`https://id.example.com/auth`): every endpoint, page, static
//! asset and cookie lives under `/auth`, the metadata is found where OIDC Discovery and
//! RFC 8414 §3.1 say, and nothing answers at the root any more. Also
//! `Strict-Transport-Security` on every response exactly when the issuer is https.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    CALLBACK, TestApp, TestUser, hidden, location, query_param, spawn_app, spawn_app_as,
    spawn_app_under,
};

/// The relying-party library checks `iat` and `exp` against the wall clock.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const LOGOUT_URI: &str = "https://rp.example.com/bye";
const CHALLENGE: &str = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8";

/// Every route of the public surface relative to the issuer, with the method it answers.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/authorize"),
    ("POST", "/authorize"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/select_account"),
    ("POST", "/select_account"),
    ("GET", "/consent"),
    ("POST", "/consent"),
    ("GET", "/logout"),
    ("POST", "/logout"),
    ("POST", "/token"),
    ("GET", "/userinfo"),
    ("POST", "/userinfo"),
    ("POST", "/introspect"),
    ("POST", "/revoke"),
    ("GET", "/jwks.json"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/static/portcullis.css"),
    ("GET", "/health/live"),
];

async fn send(app: &TestApp, method: &str, url: &str) -> reqwest::Response {
    app.http
        .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
        .send()
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, url: &str) -> Value {
    let r = app.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// A client of these tests: the callback, a post-logout URI, first-party so the flow needs
/// no consent when the test wants none.
async fn rp_client(app: &TestApp, first_party: bool) -> String {
    app.confidential_client("rp")
        .name("App rp")
        .first_party_if(first_party)
        .redirect_uris(&[CALLBACK])
        .post_logout_redirect_uris(&[LOGOUT_URI])
        .scope("openid profile email")
        .await
        .secret()
        .to_owned()
}

fn authorize_params(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    params
}

#[tokio::test]
async fn metadata_is_found_at_both_well_known_urls_and_everything_advertised_answers() {
    let app = spawn_app_under("/auth").await;
    let plain = spawn_app().await;
    let issuer = app.state.config.issuer.as_str().to_owned();
    assert_eq!(
        issuer, app.base,
        "the issuer is the server's URL with its path"
    );
    assert!(issuer.ends_with("/auth"));

    // OIDC Discovery §4: the issuer plus the well-known suffix. RFC 8414 §3.1: the
    // well-known suffix between host and path.
    let oidc = get_json(&app, &app.url("/.well-known/openid-configuration")).await;
    let rfc8414 = get_json(
        &app,
        &format!("{}/.well-known/oauth-authorization-server/auth", app.public),
    )
    .await;
    assert_eq!(oidc, rfc8414, "one document at both addresses");
    assert_eq!(oidc["issuer"], issuer.as_str());

    // Every URL the metadata advertises is under the issuer and answers there exactly as
    // the same endpoint answers on a server without a path (which the rest of the suite
    // tests in depth): routed, not 404, 405 or 5xx.
    let advertised: Vec<(&str, &str)> = oidc
        .as_object()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.ends_with("_endpoint") || key.ends_with("_uri"))
        .map(|(key, value)| (key.as_str(), value.as_str().unwrap()))
        .collect();
    assert!(advertised.len() >= 7, "{advertised:?}");
    let plain_meta = get_json(&plain, &plain.url("/.well-known/openid-configuration")).await;
    for (key, url) in advertised {
        let route = url
            .strip_prefix(issuer.as_str())
            .unwrap_or_else(|| panic!("{key} = {url} is not under the issuer {issuer}"));
        assert_eq!(
            plain_meta[key].as_str(),
            Some(format!("{}{route}", plain.base).as_str()),
            "{key} names the same route on both servers"
        );
        for method in ["GET", "POST"] {
            let here = send(&app, method, url).await.status();
            let there = send(&plain, method, &plain.url(route)).await.status();
            assert_eq!(here, there, "{method} {key} ({url})");
            assert!(!here.is_server_error(), "{method} {url}: {here}");
        }
        let expect_routed = if key == "jwks_uri" { "GET" } else { "POST" };
        let status = send(&app, expect_routed, url).await.status();
        assert!(
            status != 404 && status != 405,
            "{expect_routed} {key} ({url}) is not routed: {status}"
        );
    }
    // The JWKS is the key set, not an error page.
    let jwks = get_json(&app, oidc["jwks_uri"].as_str().unwrap()).await;
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_root_paths_are_gone_when_the_issuer_has_a_path() {
    let app = spawn_app_under("/auth").await;
    for (method, route) in ROUTES
        .iter()
        .chain(&[("GET", "/.well-known/oauth-authorization-server")])
    {
        let at_root = send(&app, method, &format!("{}{route}", app.public)).await;
        assert_eq!(at_root.status(), 404, "{method} {route} at the root");
    }
    for (method, route) in ROUTES {
        let under = send(&app, method, &app.url(route)).await.status();
        assert!(
            under != 404 && under != 405 && !under.is_server_error(),
            "{method} /auth{route}: {under}"
        );
    }
    // Neither a sibling path nor a path that merely starts with the same letters reaches
    // the issuer.
    for url in [
        format!("{}/authx/token", app.public),
        format!("{}/other/.well-known/openid-configuration", app.public),
        format!("{}/auth/auth/token", app.public),
    ] {
        let r = app.http.post(&url).send().await.unwrap();
        assert_eq!(r.status(), 404, "{url}");
    }
}

#[tokio::test]
async fn the_code_flow_runs_against_an_issuer_with_a_path() {
    let app = spawn_app_under("/auth").await;
    app.clock.set(wall_clock());
    let secret = rp_client(&app, false).await;
    let alice: TestUser = app.user("alice").with_profile().await;

    // The relying party finds the issuer by its URL, path included.
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &app.http)
            .await
            .unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("rp".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert!(auth_url.as_str().starts_with(&app.url("/authorize?")));

    // The browser is sent to the login page under the path, whose form, stylesheet and
    // cookie are all there too.
    let b = app.browser();
    let r = b.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.starts_with("/auth/login?request_id="), "{to}");
    let page = b
        .get(format!("{}{to}", app.public))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("action=\"/auth/login\""), "{page}");
    assert!(
        page.contains("href=\"/auth/static/portcullis.css\""),
        "{page}"
    );
    let css = b
        .get(format!("{}/auth/static/portcullis.css", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // The login answers with a session cookie scoped to the path, then the consent page
    // (under the path), then the client.
    let r = b
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("request_id", hidden(&page, "request_id")),
            ("csrf_token", hidden(&page, "csrf_token")),
            ("username", alice.username.clone()),
            ("password", alice.password.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("portcullis_session="), "{cookie}");
    assert!(cookie.contains("Path=/auth"), "{cookie}");
    assert!(!cookie.contains("Path=/;"), "{cookie}");
    let to = location(&r);
    assert!(to.starts_with("/auth/consent?request_id="), "{to}");
    let back = app.login(&b, &format!("{}{to}", app.public), &alice).await;
    assert!(back.url.starts_with(CALLBACK), "{back:?}");
    assert_eq!(
        back.param("state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        back.param("iss").as_deref(),
        Some(app.base.as_str()),
        "RFC 9207"
    );

    // The relying party redeems the code and checks the ID token's `iss`, path included.
    let tokens = rp
        .exchange_code(AuthorizationCode::new(back.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&rp.id_token_verifier(), &nonce).unwrap();
    assert_eq!(claims.issuer().as_str(), app.base);
    assert_eq!(claims.subject().as_str(), alice.id);
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&app.http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));

    // The session cookie is sent back under the path: a second flow needs no login.
    let again = app.authorize_url(&authorize_params(&[("prompt", "none")]));
    let r = b.get(&again).send().await.unwrap();
    assert!(location(&r).starts_with(CALLBACK), "{}", location(&r));
    assert!(
        query_param(&location(&r), "code").is_some(),
        "{}",
        location(&r)
    );

    // RP-initiated logout at the advertised endpoint ends it and clears the cookie at
    // the path where it was set.
    let id_token = id_token.to_string();
    let r = b
        .get(app.url("/logout"))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", LOGOUT_URI),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{LOGOUT_URI}?state=bye"));
    let cleared = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("portcullis_session=;") && cleared.contains("Path=/auth"),
        "{cleared}"
    );
    let r = b.get(&again).send().await.unwrap();
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
}

/// Signs `user` in at `app` and returns the Set-Cookie header of the login's answer.
async fn login_cookie(app: &TestApp, user: &TestUser) -> String {
    let b = app.browser();
    let r = b
        .get(app.authorize_url(&authorize_params(&[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = b
        .get(format!("{}{}", app.public, location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = b
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("request_id", hidden(&page, "request_id")),
            ("csrf_token", hidden(&page, "csrf_token")),
            ("username", user.username.clone()),
            ("password", user.password.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    r.headers()["set-cookie"].to_str().unwrap().to_owned()
}

/// `prompt=none` with exactly this Cookie header: a code when the server took it as the
/// session, `login_required` when not.
async fn silent_authorize(app: &TestApp, cookie: &str) -> String {
    let r = app
        .http
        .get(app.authorize_url(&authorize_params(&[("prompt", "none")])))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    location(&r)
}

#[tokio::test]
async fn https_issuers_with_a_path_get_secure_prefixed_cookies_at_that_path() {
    let app = spawn_app_as("https://id.example.com/auth").await;
    app.clock.set(wall_clock());
    rp_client(&app, true).await;
    let bob = app.user("bob").await;
    let cookie = login_cookie(&app, &bob).await;
    // `__Host-` demands `Path=/`, which would hand the session to every application on
    // the host; `__Secure-` keeps the browser's guarantee that only https sets it.
    assert!(
        cookie.starts_with("__Secure-portcullis_session="),
        "{cookie}"
    );
    for attribute in ["Path=/auth", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {cookie}"
        );
    }
    assert!(!cookie.contains("Domain="), "{cookie}");

    // The server reads the session under that name only.
    let pair = cookie.split(';').next().unwrap().to_owned();
    let value = pair.split_once('=').unwrap().1;
    let with_session = silent_authorize(&app, &pair).await;
    assert!(
        query_param(&with_session, "code").is_some(),
        "{with_session}"
    );
    for other_name in ["__Host-portcullis_session", "portcullis_session"] {
        let to = silent_authorize(&app, &format!("{other_name}={value}")).await;
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("login_required"),
            "{other_name}"
        );
    }

    // Logout without an ID token asks first; the confirmation form's CSRF token is bound
    // to the browser-binding cookie, made like every other cookie: same prefix, same path.
    let r = app
        .http
        .get(app.url("/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let binding = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        binding.starts_with("__Secure-portcullis_browser="),
        "{binding}"
    );
    assert!(binding.split("; ").any(|a| a == "Path=/auth"), "{binding}");
    let page = r.text().await.unwrap();
    assert!(page.contains("action=\"/auth/logout\""), "{page}");
    let binding = binding.split(';').next().unwrap();
    let r = app
        .http
        .post(app.url("/logout"))
        .header("cookie", format!("{pair}; {binding}"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf_token", hidden(&page, "csrf_token"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // It is cleared under the same name and path, or the browser would keep it.
    let cleared = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("__Secure-portcullis_session=;"),
        "{cleared}"
    );
    assert!(
        cleared.contains("Path=/auth") && cleared.contains("Secure"),
        "{cleared}"
    );
    let to = silent_authorize(&app, &pair).await;
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));

    // Without a path the stricter `__Host-` prefix and `Path=/`, as before.
    let root = spawn_app_as("https://id.example.com").await;
    root.clock.set(wall_clock());
    rp_client(&root, true).await;
    let carol = root.user("carol").await;
    let cookie = login_cookie(&root, &carol).await;
    assert!(cookie.starts_with("__Host-portcullis_session="), "{cookie}");
    assert!(cookie.split("; ").any(|a| a == "Path=/"), "{cookie}");
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
}

/// Requests that between them reach every kind of answer: documents, pages, redirects,
/// protocol errors, an unknown path, a body too large, the admin listener.
async fn assorted_responses(app: &TestApp) -> Vec<(String, reqwest::Response)> {
    let mut out = Vec::new();
    for (method, route) in ROUTES {
        let url = app.url(route);
        out.push((format!("{method} {url}"), send(app, method, &url).await));
    }
    let authorize = app.authorize_url(&authorize_params(&[]));
    out.push((
        authorize.clone(),
        app.http.get(&authorize).send().await.unwrap(),
    ));
    let missing = format!("{}/no/such/page", app.public);
    out.push((
        missing.clone(),
        app.http.get(&missing).send().await.unwrap(),
    ));
    let rfc8414 = format!(
        "{}/.well-known/oauth-authorization-server{}",
        app.public,
        app.state.config.issuer.path()
    );
    out.push((
        rfc8414.clone(),
        app.http.get(&rfc8414).send().await.unwrap(),
    ));
    let too_large = app
        .http
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 64 * 1024])
        .send()
        .await
        .unwrap();
    out.push(("a body too large".into(), too_large));
    for route in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/admin/v1/clients",
    ] {
        out.push((format!("admin {route}"), app.get_admin(route).await));
    }
    out
}

#[tokio::test]
async fn hsts_on_every_public_response_exactly_when_the_issuer_is_https() {
    for issuer in ["https://id.example.com/auth", "https://id.example.com"] {
        let app = spawn_app_as(issuer).await;
        rp_client(&app, false).await;
        let responses = assorted_responses(&app).await;
        let statuses: Vec<u16> = responses.iter().map(|(_, r)| r.status().as_u16()).collect();
        for expected in [200, 303, 400, 401, 404, 413] {
            assert!(
                statuses.contains(&expected),
                "no {expected} among {statuses:?}"
            );
        }
        for (what, r) in responses {
            assert_eq!(
                r.headers()
                    .get("strict-transport-security")
                    .map(|v| v.to_str().unwrap()),
                Some("max-age=31536000"),
                "{issuer}: {what} ({})",
                r.status()
            );
        }
    }
    // A loopback development issuer over http: never, on any of the same answers.
    for app in [spawn_app().await, spawn_app_under("/auth").await] {
        rp_client(&app, false).await;
        for (what, r) in assorted_responses(&app).await {
            assert!(
                r.headers().get("strict-transport-security").is_none(),
                "{what} ({})",
                r.status()
            );
        }
    }
}
