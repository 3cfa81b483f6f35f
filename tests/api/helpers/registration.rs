//! Dynamic client registration in the kit: a server with registration open (or behind
//! initial access tokens), and the RFC 7591 / RFC 7592 calls a registrant makes.
//!
//! ```ignore
//! let app = spawn_registration_app(RegistrationMode::Open, &["https://mcp.example.com/*"]).await;
//! let (status, client) = app.register(&json!({"redirect_uris": [LOOPBACK]}), None).await;
//! ```

use std::sync::Arc;

use diesel::prelude::*;
use portcullis::config::{Bucket, Config, RegistrationMode, ResourcePattern};
use serde_json::{Value, json};

use super::app::{TestApp, spawn_app_with};
use super::db::TestDb;

/// The loopback redirect an MCP client registers (a port it listens on).
pub const LOOPBACK: &str = "http://localhost:33418/callback";

/// A PKCE verifier and its S256 challenge.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c";
pub const PKCE_CHALLENGE: &str = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8";

/// Registration in `mode`, registered clients allowed the resources `patterns`, and the
/// registration endpoint's rate limit off (tests register many clients from one address).
pub fn registration_settings(config: &mut Config, mode: RegistrationMode, patterns: &[&str]) {
    config.registration.mode = mode;
    config.registration.allowed_resources = patterns
        .iter()
        .map(|p| ResourcePattern::parse(p).expect("pattern"))
        .collect();
    config.rate_limit.endpoints.insert(
        "register",
        Bucket {
            per_second: 0,
            burst: 0,
        },
    );
}

pub async fn spawn_registration_app(mode: RegistrationMode, patterns: &[&str]) -> TestApp {
    let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
    spawn_app_with(Arc::new(TestDb::new()), move |c| {
        let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
        registration_settings(c, mode, &patterns);
    })
    .await
}

/// What an MCP SDK client sends (docs: MCP.md point 4): a public client with a loopback
/// redirect, the code grant and refresh.
pub fn mcp_metadata() -> Value {
    json!({
        "client_name": "Example MCP client",
        "redirect_uris": [LOOPBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// A status and a JSON body (Null when there is none).
async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl TestApp {
    /// `POST /register` with `metadata`, and `Authorization: Bearer <token>` when given.
    pub async fn register(&self, metadata: &Value, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(self.url("/register")).json(metadata);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        answer(req.send().await.unwrap()).await
    }

    /// A registration that must succeed (201): the client information response.
    pub async fn registered(&self, metadata: &Value) -> Value {
        let (status, body) = self.register(metadata, None).await;
        assert_eq!(status, 201, "registration refused: {body}");
        body
    }

    /// RFC 7592: `method` on the client's `registration_client_uri` with `token`.
    pub async fn manage_registration(
        &self,
        method: reqwest::Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, uri);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        answer(req.send().await.unwrap()).await
    }

    /// `POST /token` as a public client (its `client_id` in the form).
    pub async fn public_token_request(
        &self,
        client_id: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = form.to_vec();
        form.push(("client_id", client_id));
        answer(
            self.http
                .post(self.url("/token"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// The details of every audit event of `event_type`, oldest first.
pub async fn audit_details(app: &TestApp, event_type: &str) -> Vec<Value> {
    use portcullis::store::schema::audit_events;
    let event_type = event_type.to_owned();
    let rows: Vec<String> = app
        .state
        .store
        .run(move |conn| {
            Ok(audit_events::table
                .filter(audit_events::event_type.eq(event_type))
                .order(audit_events::seq.asc())
                .select(audit_events::details)
                .load(conn)?)
        })
        .await
        .unwrap();
    rows.iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}
