use serde::Serialize;

use super::authority::{Caller, Holding};
use super::{ManageError, Service, dedup_sorted, invalid, validate_role};
use crate::audit::AuditEvent;
use crate::crypto::tokens::{CLIENT_SECRET_PREFIX, Secret};
use crate::oauth::client::resources as client_resources;
use crate::oauth::client::{AUTH_METHODS, ClientOrigin, GRANT_TYPES};
use crate::oauth::{redirect_uri, scope};
use crate::store::audit::Change;
use crate::store::models::clients::{self as rows, ClientRecord, ClientRow};
use crate::store::models::grants;
use crate::store::{DbConnection, StoreError};

/// A client as shown to operators; field names follow RFC 7591 client metadata.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub token_endpoint_auth_method: String,
    pub first_party: bool,
    pub require_pkce: bool,
    /// Every user signing in through this client must use a second factor.
    pub require_mfa: bool,
    pub access_token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub disabled: bool,
    pub roles: Vec<String>,
    /// RFC 8707 resource URIs the client may name as the audience of its tokens.
    pub resources: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Who registered it: `cli`, `api` (operators), `registration` (RFC 7591) or
    /// `metadata_document`. The janitor deletes clients of the last two once unused for
    /// `registration.idle_days`; promoting one makes it an operator's.
    pub origin: String,
    /// When a token was last issued to it (to the hour); `None`: never.
    pub last_used_at: Option<i64>,
    /// OIDC `application_type` (`web`, `native`) of a self-registered client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

pub(super) fn json_list(raw: &str) -> Result<Vec<String>, ManageError> {
    serde_json::from_str(raw)
        .map_err(|_| ManageError::Store(StoreError::Corrupt("client list column".into())))
}

pub(super) fn to_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

impl TryFrom<ClientRecord> for ClientView {
    type Error = ManageError;
    fn try_from(r: ClientRecord) -> Result<Self, ManageError> {
        Ok(Self {
            redirect_uris: json_list(&r.row.redirect_uris)?,
            post_logout_redirect_uris: json_list(&r.row.post_logout_redirect_uris)?,
            grant_types: json_list(&r.row.grant_types)?,
            scope: json_list(&r.row.scopes)?.join(" "),
            resources: json_list(&r.row.resources)?,
            client_id: r.row.client_id,
            client_name: r.row.name,
            confidential: r.row.confidential,
            token_endpoint_auth_method: r.row.token_endpoint_auth_method,
            first_party: r.row.first_party,
            require_pkce: r.row.require_pkce,
            require_mfa: r.row.require_mfa,
            access_token_lifetime: r.row.access_token_lifetime,
            refresh_token_lifetime: r.row.refresh_token_lifetime,
            disabled: r.row.disabled,
            roles: r.roles,
            created_at: r.row.created_at,
            updated_at: r.row.updated_at,
            origin: r.row.origin,
            last_used_at: r.row.last_used_at,
            application_type: r.row.application_type,
            client_uri: r.row.client_uri,
            logo_uri: r.row.logo_uri,
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct NewClient {
    pub name: String,
    pub client_id: Option<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
    pub first_party: bool,
    pub token_endpoint_auth_method: Option<String>,
    pub require_pkce: Option<bool>,
    /// Off unless asked for: a second factor for every user of this client.
    pub require_mfa: bool,
    pub access_token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub resources: Vec<String>,
    /// Who registers it; `None`: the caller's kind (`cli` for the CLI, `api` for the
    /// admin API).
    pub origin: Option<ClientOrigin>,
    /// Metadata of self-registered clients (`manage::registration`).
    pub application_type: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
}

/// Fields to change; `None` leaves a field as it is, lists are replaced whole.
#[derive(Debug, Default, Clone)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub roles: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub token_endpoint_auth_method: Option<String>,
    pub require_pkce: Option<bool>,
    pub require_mfa: Option<bool>,
    pub access_token_lifetime: Option<Option<i64>>,
    pub refresh_token_lifetime: Option<Option<i64>>,
    pub disabled: Option<bool>,
    pub resources: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct CreatedClient {
    pub client: ClientView,
    /// Only for confidential clients; shown once, stored as a digest.
    pub client_secret: Option<Secret>,
}

/// Names of actors that are not clients. Actors are typed (`audit::AuditActor`), so a client
/// by one of these names is still recorded as `client:<name>`; refusing them too keeps a
/// person reading the log, or a filter written by hand, from taking one for the other.
pub const RESERVED_CLIENT_IDS: [&str; 2] = ["cli", "system"];

pub(super) fn validate_client_id(id: &str) -> Result<(), ManageError> {
    if RESERVED_CLIENT_IDS
        .iter()
        .any(|reserved| id.eq_ignore_ascii_case(reserved))
    {
        return Err(invalid(
            "client_id",
            format!("`{id}` is reserved for an actor that is not a client"),
        ));
    }
    // The account pages' built-in client must stay out of the table: were it registered,
    // /authorize and /token would find it (see `oauth::client::ACCOUNT_CLIENT_ID`).
    if id.eq_ignore_ascii_case(crate::oauth::client::ACCOUNT_CLIENT_ID) {
        return Err(invalid(
            "client_id",
            format!("`{id}` is reserved for the account pages"),
        ));
    }
    // Unreserved characters only, so the id survives form and Basic encoding unchanged.
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "client_id",
            "must be 1 to 128 characters from A-Z a-z 0-9 - . _ ~",
        ))
    }
}

/// The id of a client from a metadata document: a URL in its normal form, of bounded
/// length (`oauth::registration::metadata_document`).
fn validate_document_client_id(id: &str) -> Result<(), ManageError> {
    use crate::oauth::registration::metadata_document::{MAX_CLIENT_ID_LEN, is_client_id_url};
    let ok = is_client_id_url(id)
        && id.len() <= MAX_CLIENT_ID_LEN
        && url::Url::parse(id).is_ok_and(|u| u.as_str() == id);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "client_id",
            "a metadata document's client is named by its URL, in normal form",
        ))
    }
}

/// RFC 8707 resources: the same rule a request's `resource` must meet, so every listed
/// resource can actually be granted.
fn validate_resources(resources: &[String]) -> Result<(), ManageError> {
    if resources.len() > client_resources::MAX_RESOURCES {
        return Err(invalid(
            "resources",
            format!("at most {} resources", client_resources::MAX_RESOURCES),
        ));
    }
    for uri in resources {
        client_resources::check_uri(uri)
            .map_err(|e| invalid("resources", format!("`{uri}` {e}")))?;
    }
    Ok(())
}

fn validate_uris(field: &'static str, uris: &[String]) -> Result<(), ManageError> {
    for uri in uris {
        redirect_uri::validate_for_registration(uri)
            .map_err(|e| invalid(field, format!("`{uri}` {e}")))?;
    }
    Ok(())
}

/// Access tokens are signed: a retired key stays published this long
/// (crypto/keystore/rotation.rs), so the cap bounds how long old keys linger.
pub const MAX_ACCESS_TOKEN_LIFETIME: i64 = 86_400;
const MAX_REFRESH_TOKEN_LIFETIME: i64 = 366 * 86_400;

fn validate_lifetime(field: &'static str, value: Option<i64>, max: i64) -> Result<(), ManageError> {
    match value {
        Some(v) if !(1..=max).contains(&v) => Err(invalid(
            field,
            format!("must be between 1 and {max} seconds"),
        )),
        Some(_) | None => Ok(()),
    }
}

/// The rules a client's settings must satisfy together, checked on create and update.
pub(super) fn validate_row(row: &ClientRow, view: &ClientView) -> Result<(), ManageError> {
    if row.name.trim().is_empty() || row.name.chars().count() > 256 {
        return Err(invalid("client_name", "must be 1 to 256 characters"));
    }
    validate_uris("redirect_uris", &view.redirect_uris)?;
    validate_uris("post_logout_redirect_uris", &view.post_logout_redirect_uris)?;
    validate_resources(&view.resources)?;
    for grant in &view.grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(
                "grant_types",
                format!("`{grant}` is not one of {}", GRANT_TYPES.join(", ")),
            ));
        }
    }
    if view.grant_types.is_empty() {
        return Err(invalid(
            "grant_types",
            "at least one grant type is required",
        ));
    }
    let has = |g: &str| view.grant_types.iter().any(|x| x == g);
    if has("authorization_code") && view.redirect_uris.is_empty() {
        return Err(invalid(
            "redirect_uris",
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    if has("refresh_token") && !(has("authorization_code") || has("password")) {
        return Err(invalid(
            "grant_types",
            "refresh_token needs authorization_code or password to start from",
        ));
    }
    if !row.confidential && (has("client_credentials") || has("password")) {
        return Err(invalid(
            "grant_types",
            "public clients cannot use client_credentials or password (they hold no secret)",
        ));
    }
    for s in view.scope.split(' ').filter(|s| !s.is_empty()) {
        if !scope::is_valid_token(s) {
            return Err(invalid(
                "scope",
                format!("`{s}` is not a valid scope token"),
            ));
        }
    }
    let method = row.token_endpoint_auth_method.as_str();
    if !AUTH_METHODS.contains(&method) {
        return Err(invalid(
            "token_endpoint_auth_method",
            format!("must be one of {}", AUTH_METHODS.join(", ")),
        ));
    }
    if row.confidential == (method == "none") {
        return Err(invalid(
            "token_endpoint_auth_method",
            "confidential clients authenticate with a secret; public clients use `none`",
        ));
    }
    if !row.confidential && !row.require_pkce {
        return Err(invalid(
            "require_pkce",
            "PKCE cannot be turned off for public clients",
        ));
    }
    validate_lifetime(
        "access_token_lifetime",
        row.access_token_lifetime,
        MAX_ACCESS_TOKEN_LIFETIME,
    )?;
    validate_lifetime(
        "refresh_token_lifetime",
        row.refresh_token_lifetime,
        MAX_REFRESH_TOKEN_LIFETIME,
    )?;
    for role in &view.roles {
        validate_role(role)?;
    }
    validate_origin(row, view)
}

/// What a client's origin demands: a self-registered client holds no role, never the
/// `admin` scope, always asks for consent and uses PKCE, whoever writes it (an operator
/// who wants more promotes it first); its metadata URLs are https.
fn validate_origin(row: &ClientRow, view: &ClientView) -> Result<(), ManageError> {
    let origin = ClientOrigin::parse(&row.origin).ok_or_else(|| {
        invalid(
            "origin",
            "must be one of cli, api, registration, metadata_document",
        )
    })?;
    if origin.is_dynamic() {
        if !view.roles.is_empty() {
            return Err(invalid(
                "roles",
                "a self-registered client holds no roles; promote it first",
            ));
        }
        if view.scope.split(' ').any(|s| s == "admin") {
            return Err(invalid(
                "scope",
                "a self-registered client never holds the admin scope; promote it first",
            ));
        }
        if row.first_party {
            return Err(invalid(
                "first_party",
                "a self-registered client always asks for consent; promote it first",
            ));
        }
        if !row.require_pkce {
            return Err(invalid(
                "require_pkce",
                "a self-registered client always uses PKCE",
            ));
        }
    }
    if let Some(kind) = &row.application_type
        && kind != "web"
        && kind != "native"
    {
        return Err(invalid("application_type", "must be web or native"));
    }
    for (field, value) in [("client_uri", &row.client_uri), ("logo_uri", &row.logo_uri)] {
        if let Some(uri) = value {
            let https = uri.len() <= 2048
                && url::Url::parse(uri).is_ok_and(|u| u.scheme() == "https" && u.has_host());
            if !https {
                return Err(invalid(field, "must be an https URL"));
            }
        }
    }
    Ok(())
}

/// What a client holds: its roles and the scopes it may be granted.
pub(super) fn holding(record: &ClientRecord) -> Result<Holding, ManageError> {
    Ok(Holding {
        roles: record.roles.clone(),
        scopes: json_list(&record.row.scopes)?,
    })
}

pub(super) fn store_error_for_client(err: StoreError) -> ManageError {
    match err {
        StoreError::Conflict => ManageError::Conflict(super::CLIENT_ID_TAKEN),
        StoreError::NotFound => ManageError::NotFound("client"),
        other @ (StoreError::Unavailable(_) | StoreError::Query(_) | StoreError::Corrupt(_)) => {
            ManageError::Store(other)
        }
    }
}

/// Work done in the transaction that inserts a new client, after the insert: it may
/// refuse (rolling the insert back) or return details for the audit event.
pub(super) type Along = Box<
    dyn FnOnce(&mut DbConnection, i64) -> Result<serde_json::Value, ManageError> + Send + 'static,
>;

/// What a self-registration adds to `create_client` (`create_client_with`).
#[derive(Default)]
pub(super) struct Creation {
    pub registration_token_digest: Option<[u8; 32]>,
    /// The audit event's type; `client.created` when `None`.
    pub event_type: Option<&'static str>,
    pub along: Option<Along>,
}

/// What a write did to a client, decided on the locked row inside the transaction.
pub(super) struct Written<T> {
    pub value: T,
    /// What the client holds after the change (`None`: it is gone); the caller must be
    /// allowed to confer it.
    pub after: Option<Holding>,
    pub event: AuditEvent,
}

/// `change` applied to the client `record`, checked as a whole (`validate_row`).
pub(super) fn apply_update(
    record: ClientRecord,
    change: ClientUpdate,
    now: i64,
) -> Result<ClientRecord, ManageError> {
    let mut row = record.row;
    if let Some(name) = change.name {
        row.name = name.trim().to_owned();
    }
    if let Some(uris) = change.redirect_uris {
        row.redirect_uris = to_json(&uris);
    }
    if let Some(uris) = change.post_logout_redirect_uris {
        row.post_logout_redirect_uris = to_json(&uris);
    }
    if let Some(grants) = change.grant_types {
        row.grant_types = to_json(&dedup_sorted(grants));
    }
    if let Some(scopes) = change.scopes {
        row.scopes = to_json(&dedup_sorted(scopes));
    }
    if let Some(v) = change.first_party {
        row.first_party = v;
    }
    if let Some(method) = change.token_endpoint_auth_method {
        row.token_endpoint_auth_method = method;
    }
    if let Some(v) = change.require_pkce {
        row.require_pkce = v;
    }
    if let Some(v) = change.require_mfa {
        row.require_mfa = v;
    }
    if let Some(v) = change.access_token_lifetime {
        row.access_token_lifetime = v;
    }
    if let Some(v) = change.refresh_token_lifetime {
        row.refresh_token_lifetime = v;
    }
    if let Some(v) = change.disabled {
        row.disabled = v;
    }
    if let Some(resources) = change.resources {
        row.resources = to_json(&dedup_sorted(resources));
    }
    row.updated_at = now;
    let roles = change.roles.map(dedup_sorted).unwrap_or(record.roles);
    let after = ClientRecord { row, roles };
    validate_row(&after.row, &ClientView::try_from(after.clone())?)?;
    Ok(after)
}

impl Service {
    /// Every write to an existing client goes through here, in one transaction: lock the
    /// client, refuse when it holds more than the caller (`Caller::may_act_on`: no
    /// rotating an admin client's secret or moving its redirect URIs), let `change` apply
    /// itself, refuse when the client would then hold more than the caller may confer,
    /// and append the audit row. A refusal rolls everything back; an access refusal is
    /// then recorded on its own.
    pub(super) async fn write_client<T: Send + 'static>(
        &self,
        by: Caller,
        client_id: &str,
        kind: Change,
        attempted: &'static str,
        change: impl FnOnce(&mut DbConnection, ClientRecord) -> Result<Written<T>, ManageError>
        + Send
        + 'static,
    ) -> Result<T, ManageError> {
        let (target, judge) = (client_id.to_owned(), by.clone());
        let meant = AuditEvent::new(attempted)
            .subject(client_id.to_owned())
            .by(by.actor().clone());
        let done = self
            .store
            .run_recorded(kind, self.clock.now(), Some(meant), move |conn| {
                let record = rows::lock(conn, &target)?.ok_or(ManageError::NotFound("client"))?;
                if !judge.may_act_on(&holding(&record)?) {
                    return Err(ManageError::Denied(super::HOLDS_MORE));
                }
                let written = change(conn, record)?;
                if let Some(after) = &written.after
                    && !judge.may_confer(after)
                {
                    return Err(ManageError::Denied(super::CONFERS_MORE));
                }
                let event = written.event.by(judge.actor().clone());
                Ok((written.value, Some(event)))
            })
            .await;
        self.store.note_client_change();
        match done {
            Ok(value) => Ok(value),
            Err(err) => {
                self.denied(by.actor(), attempted, Some(client_id), err)
                    .await
            }
        }
    }

    pub async fn create_client(
        &self,
        by: impl Into<Caller>,
        new: NewClient,
    ) -> Result<CreatedClient, ManageError> {
        self.create_client_with(by.into(), new, Creation::default())
            .await
    }

    /// `create_client` with what a self-registration adds: the digest of its
    /// registration access token, its own audit event, and work that must commit with
    /// the new row or not at all (`Creation::along`).
    pub(super) async fn create_client_with(
        &self,
        by: Caller,
        new: NewClient,
        creation: Creation,
    ) -> Result<CreatedClient, ManageError> {
        let client_id = match new.client_id {
            // A client ID metadata document's client is named by its URL, which the
            // protocol side checked against the draft's rules before fetching it.
            Some(id) if new.origin == Some(ClientOrigin::MetadataDocument) => {
                validate_document_client_id(&id)?;
                id
            }
            Some(id) => {
                validate_client_id(&id)?;
                id
            }
            None => uuid::Uuid::now_v7().to_string(),
        };
        let confidential = !new.public;
        let grant_types = if new.grant_types.is_empty() {
            if new.redirect_uris.is_empty() {
                vec!["client_credentials".to_owned()]
            } else {
                vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
            }
        } else {
            dedup_sorted(new.grant_types)
        };
        let scopes =
            if new.scopes.is_empty() && grant_types.iter().any(|g| g == "authorization_code") {
                ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec()
            } else {
                dedup_sorted(new.scopes)
            };
        let method = new.token_endpoint_auth_method.unwrap_or_else(|| {
            if confidential {
                "client_secret_basic"
            } else {
                "none"
            }
            .to_owned()
        });
        let secret = confidential.then(|| Secret::generate(CLIENT_SECRET_PREFIX));
        let now = self.clock.now();
        let origin = new.origin.unwrap_or_else(|| by.origin());
        let row = ClientRow {
            client_id,
            name: new.name.trim().to_owned(),
            confidential,
            secret_digest: secret.as_ref().map(|s| s.digest().to_vec()),
            redirect_uris: to_json(&new.redirect_uris),
            post_logout_redirect_uris: to_json(&new.post_logout_redirect_uris),
            grant_types: to_json(&grant_types),
            scopes: to_json(&scopes),
            token_endpoint_auth_method: method,
            first_party: new.first_party,
            require_pkce: new.require_pkce.unwrap_or(true),
            access_token_lifetime: new.access_token_lifetime,
            refresh_token_lifetime: new.refresh_token_lifetime,
            disabled: false,
            created_at: now,
            updated_at: now,
            instance: rows::new_instance(),
            resources: to_json(&dedup_sorted(new.resources)),
            require_mfa: new.require_mfa,
            origin: origin.as_str().to_owned(),
            last_used_at: None,
            registration_token_digest: creation.registration_token_digest.map(|d| d.to_vec()),
            application_type: new.application_type,
            client_uri: new.client_uri,
            logo_uri: new.logo_uri,
        };
        let roles = dedup_sorted(new.roles);
        let view = ClientView::try_from(ClientRecord {
            row: row.clone(),
            roles: roles.clone(),
        })?;
        validate_row(&row, &view)?;
        let event_type = creation.event_type.unwrap_or("client.created");
        if !by.may_confer(&Holding {
            roles: roles.clone(),
            scopes: scopes.clone(),
        }) {
            let err = ManageError::Denied(super::CONFERS_MORE);
            let subject = Some(view.client_id.as_str());
            return self.denied(by.actor(), event_type, subject, err).await;
        }
        let event = AuditEvent::new(event_type)
            .by(by.actor().clone())
            .subject(view.client_id.clone())
            .details(serde_json::json!({ "after": view }));
        let along = creation.along;
        let inserted = self
            .store
            .run_recorded(Change::Other, now, Some(event.clone()), move |conn| {
                rows::insert(conn, &row, &roles).map_err(store_error_for_client)?;
                let event = match along {
                    Some(along) => {
                        let more = along(conn, now)?;
                        let mut details = event.details.clone();
                        if let (Some(into), serde_json::Value::Object(more)) =
                            (details.as_object_mut(), more)
                        {
                            into.extend(more);
                        }
                        event.details(details)
                    }
                    None => event,
                };
                Ok::<_, ManageError>(((), Some(event)))
            })
            .await;
        self.store.note_client_change();
        inserted?;
        Ok(CreatedClient {
            client: view,
            client_secret: secret,
        })
    }

    async fn find_client(&self, client_id: &str) -> Result<ClientRecord, ManageError> {
        let id = client_id.to_owned();
        self.store
            .run(move |conn| rows::find(conn, &id))
            .await?
            .ok_or(ManageError::NotFound("client"))
    }

    pub async fn get_client(&self, client_id: &str) -> Result<ClientView, ManageError> {
        self.find_client(client_id).await?.try_into()
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientView>, ManageError> {
        self.store
            .run(rows::list)
            .await?
            .into_iter()
            .map(ClientView::try_from)
            .collect()
    }

    pub async fn update_client(
        &self,
        by: impl Into<Caller>,
        client_id: &str,
        change: ClientUpdate,
    ) -> Result<ClientView, ManageError> {
        let now = self.clock.now();
        // Disabling a client must reach introspection on this replica at once.
        self.write_client(
            by.into(),
            client_id,
            Change::Revokes,
            "client.updated",
            move |conn, record| {
                let before = ClientView::try_from(record.clone())?;
                let updated = apply_update(record, change, now)?;
                rows::update(conn, &updated.row, &updated.roles)?;
                // Disabling ends every grant the client holds (its users' refresh
                // families) in the same transaction: enabling it again later brings none
                // of them back.
                if updated.row.disabled && !before.disabled {
                    grants::end_client_grants(
                        conn,
                        &updated.row.client_id,
                        now,
                        "client disabled",
                    )?;
                }
                let after = ClientView::try_from(updated.clone())?;
                let event = AuditEvent::new("client.updated")
                    .subject(after.client_id.clone())
                    .details(serde_json::json!({ "before": before, "after": after }));
                Ok(Written {
                    after: Some(holding(&updated)?),
                    value: after,
                    event,
                })
            },
        )
        .await
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_client_secret(
        &self,
        by: impl Into<Caller>,
        client_id: &str,
    ) -> Result<Secret, ManageError> {
        let secret = Secret::generate(CLIENT_SECRET_PREFIX);
        let digest = secret.digest();
        let now = self.clock.now();
        self.write_client(
            by.into(),
            client_id,
            Change::Other,
            "client.secret_rotated",
            move |conn, record| {
                if !record.row.confidential {
                    return Err(ManageError::Refused("public clients have no secret"));
                }
                rows::set_secret_digest(conn, &record.row.client_id, &digest, now)?;
                Ok(Written {
                    value: (),
                    after: Some(holding(&record)?),
                    event: AuditEvent::new("client.secret_rotated")
                        .subject(record.row.client_id.clone()),
                })
            },
        )
        .await?;
        Ok(secret)
    }

    pub async fn delete_client(
        &self,
        by: impl Into<Caller>,
        client_id: &str,
    ) -> Result<(), ManageError> {
        self.write_client(
            by.into(),
            client_id,
            Change::Revokes,
            "client.deleted",
            move |conn, record| {
                let before = ClientView::try_from(record.clone())?;
                rows::delete(conn, &record.row.client_id).map_err(store_error_for_client)?;
                Ok(Written {
                    value: (),
                    after: None,
                    event: AuditEvent::new("client.deleted")
                        .subject(before.client_id.clone())
                        .details(serde_json::json!({ "before": before })),
                })
            },
        )
        .await
    }
}
