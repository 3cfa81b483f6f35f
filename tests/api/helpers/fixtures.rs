//! The fixture kit (docs/architecture.md, convention 18): clients, users, tokens and audit counts in one line
//! each, so that a test reads as its scenario. Builders start from sensible defaults and
//! are awaited directly:
//!
//! ```ignore
//! let rs = app.confidential_client("rs").grants(&["client_credentials"]).roles(&["introspector"]).await;
//! let alice = app.user("alice").await;
//! let token = app.cc_token(&rs, Some("api.read")).await;
//! ```
//!
//! Everything is created the way an operator would (`manage::Service` as the CLI actor),
//! so creating a fixture writes the same rows and audit events as `portcullis client create`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use diesel::prelude::*;
use portcullis::manage::Actor;
use portcullis::manage::clients::NewClient;
use portcullis::manage::users::NewUser;
use portcullis::store::schema::{audit_events, audit_throttled};
use serde_json::Value;
use zeroize::Zeroizing;

use super::app::{TestApp, post_with_basic};

/// The password every kit user gets unless the test chooses another.
pub const PASSWORD: &str = "correct horse battery staple";

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A registered client as a test needs it: its id and, when confidential, its secret.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestClient {
    /// The secret of a confidential client.
    pub fn secret(&self) -> &str {
        self.secret
            .as_deref()
            .unwrap_or_else(|| panic!("{} is a public client: it has no secret", self.id))
    }

    /// (client_id, secret) for HTTP Basic authentication.
    pub fn basic(&self) -> (&str, &str) {
        (&self.id, self.secret())
    }
}

/// Builds a client; await it to create it. Defaults: the name is the id, no redirect
/// URIs, and the service's defaults for grant types and scopes.
#[must_use = "a client is only created when the builder is awaited"]
pub struct ClientBuilder<'a> {
    app: &'a TestApp,
    new: NewClient,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl ClientBuilder<'_> {
    pub fn name(mut self, name: &str) -> Self {
        self.new.name = name.into();
        self
    }

    pub fn grants(mut self, grants: &[&str]) -> Self {
        self.new.grant_types = strings(grants);
        self
    }

    /// The allowed scopes, space-separated as in a token request.
    pub fn scope(mut self, scope: &str) -> Self {
        self.new.scopes = scope.split(' ').map(str::to_owned).collect();
        self
    }

    /// The allowed scopes as a list (empty: none at all).
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.new.scopes = strings(scopes);
        self
    }

    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.new.roles = strings(roles);
        self
    }

    pub fn redirect_uris(mut self, uris: &[&str]) -> Self {
        self.new.redirect_uris = strings(uris);
        self
    }

    pub fn post_logout_redirect_uris(mut self, uris: &[&str]) -> Self {
        self.new.post_logout_redirect_uris = strings(uris);
        self
    }

    /// The RFC 8707 resources the client may name.
    pub fn resources(mut self, resources: &[&str]) -> Self {
        self.new.resources = strings(resources);
        self
    }

    /// A first-party client needs no consent.
    pub fn first_party(mut self) -> Self {
        self.new.first_party = true;
        self
    }

    pub fn first_party_if(mut self, first_party: bool) -> Self {
        self.new.first_party = first_party;
        self
    }

    pub fn require_pkce(mut self, require: bool) -> Self {
        self.new.require_pkce = Some(require);
        self
    }

    /// Every user signing in through this client must use a second factor.
    pub fn require_mfa(mut self) -> Self {
        self.new.require_mfa = true;
        self
    }

    /// `client_secret_basic` (the default) or `client_secret_post`.
    pub fn auth_method(mut self, method: &str) -> Self {
        self.new.token_endpoint_auth_method = Some(method.into());
        self
    }

    /// Anything the builder has no method for.
    pub fn with(mut self, change: impl FnOnce(&mut NewClient)) -> Self {
        change(&mut self.new);
        self
    }
}

impl<'a> IntoFuture for ClientBuilder<'a> {
    type Output = TestClient;
    type IntoFuture = Boxed<'a, TestClient>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = self.new.client_id.clone().unwrap_or_default();
            let created = self
                .app
                .state
                .service
                .create_client(&Actor::cli(), self.new)
                .await
                .unwrap_or_else(|e| panic!("creating client {id}: {e}"));
            TestClient {
                id: created.client.client_id,
                secret: created.client_secret.map(|s| s.expose().to_owned()),
            }
        })
    }
}

/// A user as a test needs it: the id (`sub`), the username and the password.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub password: String,
}

/// Builds a user; await it to create it. Defaults: password `PASSWORD`, no email, no
/// display name, no roles.
#[must_use = "a user is only created when the builder is awaited"]
pub struct UserBuilder<'a> {
    app: &'a TestApp,
    new: NewUser,
}

impl UserBuilder<'_> {
    pub fn email(mut self, email: &str) -> Self {
        self.new.email = Some(email.into());
        self
    }

    /// The display name (`name` claim).
    pub fn full_name(mut self, name: &str) -> Self {
        self.new.name = Some(name.into());
        self
    }

    /// `{username}@example.com` and `{username} Example`, for flows that read claims.
    pub fn with_profile(self) -> Self {
        let username = self.new.username.clone();
        self.email(&format!("{username}@example.com"))
            .full_name(&format!("{username} Example"))
    }

    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.new.roles = strings(roles);
        self
    }

    pub fn password(mut self, password: &str) -> Self {
        self.new.password = Some(Zeroizing::new(password.into()));
        self
    }

    /// Let the service generate the password.
    pub fn generated_password(mut self) -> Self {
        self.new.password = None;
        self
    }
}

impl<'a> IntoFuture for UserBuilder<'a> {
    type Output = TestUser;
    type IntoFuture = Boxed<'a, TestUser>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let chosen = self.new.password.as_ref().map(|p| p.to_string());
            let username = self.new.username.clone();
            let created = self
                .app
                .state
                .service
                .create_user(&Actor::cli(), self.new)
                .await
                .unwrap_or_else(|e| panic!("creating user {username}: {e}"));
            let password = chosen
                .or_else(|| created.generated_password.map(|p| p.to_string()))
                .unwrap_or_default();
            TestUser {
                id: created.user.id,
                username: created.user.username,
                password,
            }
        })
    }
}

impl TestApp {
    /// A confidential client with this client_id.
    pub fn confidential_client(&self, id: &str) -> ClientBuilder<'_> {
        ClientBuilder {
            app: self,
            new: NewClient {
                name: id.into(),
                client_id: Some(id.into()),
                ..Default::default()
            },
        }
    }

    /// A public client (no secret; PKCE) with this client_id.
    pub fn public_client(&self, id: &str) -> ClientBuilder<'_> {
        let mut builder = self.confidential_client(id);
        builder.new.public = true;
        builder
    }

    /// A user with this username and the password `PASSWORD`.
    pub fn user(&self, username: &str) -> UserBuilder<'_> {
        UserBuilder {
            app: self,
            new: NewUser {
                username: username.into(),
                password: Some(Zeroizing::new(PASSWORD.into())),
                ..Default::default()
            },
        }
    }

    /// POST /token with Basic client authentication; the status and the JSON body.
    pub async fn token_request(&self, client: &TestClient, form: &[(&str, &str)]) -> (u16, Value) {
        let r = post_with_basic(self, "/token", form, client.basic()).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// A token response that must succeed (200), as JSON.
    pub async fn tokens(&self, client: &TestClient, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.token_request(client, form).await;
        assert_eq!(
            status, 200,
            "token request {form:?} by {}: {body}",
            client.id
        );
        body
    }

    /// An access token from the client_credentials grant, for `scope` or the default.
    pub async fn cc_token(&self, client: &TestClient, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(scope.map(|s| ("scope", s)));
        access_token(&self.tokens(client, &form).await)
    }

    /// The password grant for `user` through `client`: the whole token response.
    pub async fn password_tokens(
        &self,
        client: &TestClient,
        user: &TestUser,
        scope: Option<&str>,
    ) -> Value {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", user.username.as_str()),
            ("password", user.password.as_str()),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        self.tokens(client, &form).await
    }

    /// Rows in the audit log, all of them or those of one `event_type`.
    pub async fn audit_count(&self, event_type: Option<&str>) -> i64 {
        let event_type = event_type.map(str::to_owned);
        self.state
            .store
            .run(move |conn| {
                Ok(match event_type {
                    Some(t) => audit_events::table
                        .filter(audit_events::event_type.eq(t))
                        .count()
                        .get_result(conn)?,
                    None => audit_events::table.count().get_result(conn)?,
                })
            })
            .await
            .unwrap()
    }

    /// Login attempts refused by the throttle before a password check: those still counted
    /// in their window (`audit_throttled`) plus those already written to the chain as
    /// `login.throttled` events (each with its `attempts`).
    pub async fn throttled_attempts(&self) -> i64 {
        self.state
            .store
            .run(|conn| {
                let pending: Vec<i64> = audit_throttled::table
                    .select(audit_throttled::attempts)
                    .load(conn)?;
                let written: Vec<String> = audit_events::table
                    .filter(audit_events::event_type.eq("login.throttled"))
                    .select(audit_events::details)
                    .load(conn)?;
                let written = written.iter().map(|details| {
                    let details: Value = serde_json::from_str(details).unwrap();
                    details["attempts"].as_i64().unwrap()
                });
                Ok(pending.iter().sum::<i64>() + written.sum::<i64>())
            })
            .await
            .unwrap()
    }
}

/// The `access_token` of a token response.
pub fn access_token(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

/// The `refresh_token` of a token response.
pub fn refresh_token(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {body}"))
        .to_owned()
}

/// The configuration the server would load from defaults plus these environment variables
/// (no file, nothing from the process environment), for tests of settings.
pub fn load_config(
    env: &[(&str, &str)],
) -> Result<portcullis::config::Config, portcullis::config::ConfigError> {
    portcullis::config::Config::load(&portcullis::config::Sources {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..portcullis::config::Sources::default()
    })
}
