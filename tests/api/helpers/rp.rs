//! A relying party for the tests of issue 18's browser items: the `openidconnect` crate,
//! discovering this server (with its `end_session_endpoint`), building authorization and
//! logout requests, and signing a user in through the pages to get a verified ID token.
//! Also `submit`, a form POST as a browser sends it from one of our pages.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, AuthorizationRequest, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, TokenResponse,
};

use super::app::{TestApp, spawn_app_with};
use super::browser::{CALLBACK, location};
use super::db::TestDb;
use super::fixtures::TestUser;

/// A server whose clock is the wall clock: the `openidconnect` crate checks `iat` and
/// `exp` against it.
pub async fn spawn_app_now() -> TestApp {
    spawn_app_now_with(|_| {}).await
}

/// `spawn_app_now` with a configuration change.
#[allow(clippy::disallowed_methods)]
pub async fn spawn_app_now_with(tweak: impl FnOnce(&mut portcullis::config::Config)) -> TestApp {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), tweak).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    app.clock.set(i64::try_from(now).unwrap());
    app
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One registered client, as its relying-party library sees this server.
pub struct Rp {
    pub client: Client,
    pub meta: ProviderMetadataWithLogout,
}

/// An authorization request the RP made, and what it keeps to finish it.
pub struct Started {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

impl Rp {
    /// Discovers the server and sets up `client_id` (with its secret, if confidential),
    /// redirecting to `CALLBACK`.
    pub async fn new(app: &TestApp, client_id: &str, secret: Option<&str>) -> Self {
        let meta = ProviderMetadataWithLogout::discover_async(
            IssuerUrl::new(app.public.clone()).unwrap(),
            &app.http,
        )
        .await
        .unwrap();
        let client = CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(client_id.into()),
            secret.map(|s| ClientSecret::new(s.into())),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
        Self { client, meta }
    }

    /// An authorization request with PKCE, state and nonce; `tweak` adds prompt, max_age,
    /// id_token_hint and the like.
    pub fn start<'a>(
        &'a self,
        tweak: impl FnOnce(
            AuthorizationRequest<
                'a,
                openidconnect::core::CoreAuthDisplay,
                openidconnect::core::CoreAuthPrompt,
                openidconnect::core::CoreResponseType,
            >,
        ) -> AuthorizationRequest<
            'a,
            openidconnect::core::CoreAuthDisplay,
            openidconnect::core::CoreAuthPrompt,
            openidconnect::core::CoreResponseType,
        >,
    ) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        let (url, state, nonce) = tweak(request).url();
        Started {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        }
    }

    /// Redeems the code of `back` (the URL the browser came back to) and verifies the ID
    /// token as the library does.
    pub async fn finish(&self, app: &TestApp, started: Started, back: &str) -> CoreIdToken {
        let url = url::Url::parse(back).unwrap();
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(
            param("state").as_deref(),
            Some(started.state.secret().as_str())
        );
        let code = param("code").unwrap_or_else(|| panic!("no code in {back}"));
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&app.http)
            .await
            .unwrap();
        let id_token = tokens.id_token().expect("an ID token").clone();
        id_token
            .claims(&self.client.id_token_verifier(), &started.nonce)
            .expect("the ID token verifies");
        id_token
    }

    /// `user` signs in with browser `b` (consenting if asked); the verified ID token.
    pub async fn sign_in(
        &self,
        app: &TestApp,
        b: &reqwest::Client,
        user: &TestUser,
    ) -> CoreIdToken {
        let started = self.start(|r| r);
        let back = app.login(b, &started.url, user).await;
        self.finish(app, started, &back.url).await
    }

    /// The RP-initiated logout request at the advertised `end_session_endpoint`.
    pub fn logout(&self) -> LogoutRequest {
        LogoutRequest::from(
            self.meta
                .additional_metadata()
                .end_session_endpoint
                .clone()
                .expect("end_session_endpoint is advertised"),
        )
    }
}

/// A form POST from one of our pages, as Chromium sends it (`Referrer-Policy: no-referrer`
/// makes the origin `null`; fetch metadata vouches for it).
pub async fn submit(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, String)],
) -> reqwest::Response {
    b.post(format!("{}{path}", app.public))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// GETs `url` (absolute, or a path on this server) in browser `b`.
pub async fn visit(app: &TestApp, b: &reqwest::Client, url: &str) -> reqwest::Response {
    let absolute = if url.starts_with('/') {
        format!("{}{url}", app.public)
    } else {
        url.to_owned()
    };
    b.get(absolute).send().await.unwrap()
}

/// Follows 303s on this server until a page (200) or a redirect away; the last response
/// and the URL it came from.
pub async fn follow(app: &TestApp, b: &reqwest::Client, url: &str) -> (reqwest::Response, String) {
    let mut url = url.to_owned();
    for _ in 0..6 {
        let r = visit(app, b, &url).await;
        if r.status() != 303 {
            return (r, url);
        }
        let next = location(&r);
        if !next.starts_with('/') && !next.starts_with(&app.public) {
            return (r, url);
        }
        url = next;
    }
    panic!("too many redirects from {url}");
}
