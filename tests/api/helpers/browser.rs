//! A browser for the sign-in pages: a cookie-keeping reqwest client that does not follow
//! redirects, so each step of `/authorize` -> `/login` -> `/consent` -> the client can be
//! looked at; and `TestApp::login`, which walks those pages the way a person would.

use std::future::IntoFuture;

use super::app::TestApp;
use super::fixtures::TestUser;

/// The redirect URI most kit flows register and use.
pub const CALLBACK: &str = "https://rp.example.com/callback";

/// A fresh browser: its own cookie jar, no redirects followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The Location header of a redirect.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of a hidden input in a rendered page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page: {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Where a sign-in ended: the URL the browser was sent back to at the client.
#[derive(Debug, Clone)]
pub struct Back {
    pub url: String,
}

impl Back {
    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.url, name)
    }

    /// The authorization code; fails the test when the client got none.
    pub fn code(&self) -> String {
        self.param("code")
            .unwrap_or_else(|| panic!("no code in {}", self.url))
    }

    pub fn error(&self) -> Option<String> {
        self.param("error")
    }
}

/// A sign-in through the pages; await it to run it. Defaults: consent, if asked, is
/// `allow`; the password is the user's.
#[must_use = "the sign-in only happens when the builder is awaited"]
pub struct Login<'a> {
    app: &'a TestApp,
    browser: &'a reqwest::Client,
    auth_url: String,
    username: String,
    password: String,
    decision: &'static str,
}

impl Login<'_> {
    /// Answer the consent page with `deny`.
    pub fn deny(mut self) -> Self {
        self.decision = "deny";
        self
    }
}

impl<'a> IntoFuture for Login<'a> {
    type Output = Back;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Back> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.run().await })
    }
}

impl Login<'_> {
    /// Follows the browser from the authorization URL until the response for the client,
    /// answering the login form and, if shown, the consent form.
    async fn run(self) -> Back {
        let app = self.app;
        let mut url = self.auth_url.clone();
        for _ in 0..6 {
            let absolute = if url.starts_with('/') {
                format!("{}{url}", app.public)
            } else {
                url.clone()
            };
            if !absolute.starts_with(&app.public) {
                return Back { url: absolute }; // back at the client
            }
            let r = self.browser.get(&absolute).send().await.unwrap();
            if r.status() == 303 {
                url = location(&r);
                continue;
            }
            assert_eq!(r.status(), 200, "{absolute}");
            let html = r.text().await.unwrap();
            let (route, fields) = if html.contains("name=\"password\"") {
                (
                    "/login",
                    vec![
                        ("username", self.username.clone()),
                        ("password", self.password.clone()),
                    ],
                )
            } else {
                ("/consent", vec![("decision", self.decision.to_owned())])
            };
            let mut form = vec![
                ("request_id", hidden(&html, "request_id")),
                ("csrf_token", hidden(&html, "csrf_token")),
            ];
            form.extend(fields);
            let r = self
                .browser
                .post(app.url(route))
                // What Chromium sends from our pages: `Referrer-Policy: no-referrer`
                // turns the origin of a form POST into `null`.
                .header("origin", "null")
                .header("sec-fetch-site", "same-origin")
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303, "POST {route} answers 303");
            url = location(&r);
        }
        panic!("the flow did not finish");
    }
}

impl TestApp {
    /// A fresh browser (see `browser`).
    pub fn browser(&self) -> reqwest::Client {
        browser()
    }

    /// `/authorize` on this server with `params`, form-encoded.
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            s.append_pair(k, v);
        }
        format!("{}?{}", self.url("/authorize"), s.finish())
    }

    /// `user` signs in with `browser` from `auth_url`, consenting if asked; the browser
    /// keeps its session cookie for the next flow.
    pub fn login<'a>(
        &'a self,
        browser: &'a reqwest::Client,
        auth_url: &str,
        user: &TestUser,
    ) -> Login<'a> {
        Login {
            app: self,
            browser,
            auth_url: auth_url.to_owned(),
            username: user.username.clone(),
            password: user.password.clone(),
            decision: "allow",
        }
    }
}
