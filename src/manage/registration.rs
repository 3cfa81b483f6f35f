//! Clients that register themselves (RFC 7591) and manage their registration (RFC 7592),
//! written through the same paths as an operator's (`clients::create_client_with`,
//! `clients::write_client`), so every rule of `clients::validate_row` holds for them; and
//! what operators do about them: initial access tokens, promotion.
//!
//! Nothing reaches here unchecked: a new or updated registration is an
//! `oauth::registration::Registration`, which only the registration policy makes. The
//! caller is `Caller::Registrant`, which on its own refuses any role or the `admin` scope.

use serde::Serialize;

use super::authority::Caller;
use super::clients::{ClientView, Creation, NewClient, Written, holding, store_error_for_client};
use super::{ManageError, Service};
use crate::audit::AuditEvent;
use crate::crypto::tokens::{Secret, matches_digest};
use crate::oauth::client::{ClientOrigin, GrantType};
use crate::oauth::registration::{
    INITIAL_ACCESS_TOKEN_PREFIX, REGISTRATION_TOKEN_PREFIX, Registration,
};
use crate::store::audit::Change;
use crate::store::models::clients::{self as rows, ClientRecord};
use crate::store::models::registration::{self as tokens, InitialAccessTokenRow};

/// Uses an initial access token has unless its creator says otherwise.
pub const DEFAULT_TOKEN_USES: u32 = 1;
/// Seconds an initial access token lives unless its creator says otherwise: a week.
pub const DEFAULT_TOKEN_LIFETIME: i64 = 7 * 86_400;
/// The most uses and the longest life one token may be given.
pub const MAX_TOKEN_USES: u32 = 10_000;
pub const MAX_TOKEN_LIFETIME: i64 = 366 * 86_400;

/// A client that registered itself, as its registration response needs it. No `Debug`:
/// it holds secrets.
pub struct SelfRegistered {
    pub client: ClientView,
    /// Confidential clients only; shown once, stored as a digest.
    pub client_secret: Option<Secret>,
    /// RFC 7592: shown once, stored as a digest, replaced on every update.
    pub registration_access_token: Secret,
}

/// A registered client as RFC 7592's read needs it, found with its registration access
/// token.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: ClientView,
    /// The digest of its client secret (an update may repeat the secret).
    pub secret_digest: Option<Vec<u8>>,
}

/// A new initial access token (RFC 7591 section 3). No `Debug`: it holds the token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedRegistrationToken {
    pub id: String,
    /// Shown once; only its digest is stored.
    pub token: String,
    pub uses: u32,
    pub expires_at: i64,
}

impl From<&Registration> for NewClient {
    fn from(r: &Registration) -> Self {
        NewClient {
            name: r.client_name.clone(),
            client_id: None,
            public: r.is_public(),
            redirect_uris: r.redirect_uris.clone(),
            post_logout_redirect_uris: r.post_logout_redirect_uris.clone(),
            grant_types: r.grant_type_names(),
            scopes: r.scopes.clone(),
            roles: Vec::new(),
            first_party: false,
            token_endpoint_auth_method: Some(r.token_endpoint_auth_method.as_str().to_owned()),
            require_pkce: Some(true),
            require_mfa: false,
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            resources: r.resources.clone(),
            origin: None,
            application_type: Some(r.application_type.as_str().to_owned()),
            client_uri: r.client_uri.clone(),
            logo_uri: r.logo_uri.clone(),
        }
    }
}

/// Whether `token` is the registration access token of this client, and the client may
/// still manage itself: registered dynamically (a promoted client is an operator's) and
/// not disabled. Constant time in the token.
fn holds_registration(record: &ClientRecord, token: &Secret) -> bool {
    let origin = ClientOrigin::parse(&record.row.origin);
    let matches = record
        .row
        .registration_token_digest
        .as_deref()
        .is_some_and(|digest| matches_digest(token.expose(), digest));
    matches && origin.is_some_and(ClientOrigin::is_dynamic) && !record.row.disabled
}

impl Service {
    /// RFC 7591: creates the client `registration` describes (origin `origin`:
    /// `registration`, or `metadata_document`), with a new registration access token,
    /// recording the address it came `from`. With
    /// `initial_access_token`, one of its uses is spent in the same transaction, and an
    /// unknown, spent or expired token creates nothing (`Unauthenticated`). Beyond
    /// `max_clients` clients of this origin nothing is created either (`Full`).
    pub async fn register_client(
        &self,
        registration: &Registration,
        origin: ClientOrigin,
        initial_access_token: Option<&Secret>,
        max_clients: u32,
        from: Option<std::net::IpAddr>,
    ) -> Result<SelfRegistered, ManageError> {
        let client_id = uuid::Uuid::now_v7().to_string();
        let token = Secret::generate(REGISTRATION_TOKEN_PREFIX);
        let mut new = NewClient::from(registration);
        new.client_id = Some(client_id.clone());
        new.origin = Some(origin);
        let spend = initial_access_token.map(Secret::digest);
        let along = move |conn: &mut crate::store::DbConnection, now: i64| {
            let token_id = match spend {
                Some(digest) => {
                    Some(tokens::spend(conn, &digest, now)?.ok_or(ManageError::Unauthenticated)?)
                }
                None => None,
            };
            within_bound(conn, origin, max_clients)?;
            Ok(serde_json::json!({
                "origin": origin.as_str(),
                "initial_access_token": token_id,
                "ip": from.map(|ip| ip.to_string()),
            }))
        };
        let created = self
            .create_client_with(
                Caller::registrant(&client_id),
                new,
                Creation {
                    registration_token_digest: Some(token.digest()),
                    event_type: Some("client.registered"),
                    along: Some(Box::new(along)),
                },
            )
            .await?;
        Ok(SelfRegistered {
            client: created.client,
            client_secret: created.client_secret,
            registration_access_token: token,
        })
    }

    /// RFC 7592 read: the client, when `token` is its registration access token.
    pub async fn registered_client(
        &self,
        client_id: &str,
        token: &Secret,
    ) -> Result<Registered, ManageError> {
        let id = client_id.to_owned();
        let record = self
            .store
            .run(move |conn| rows::find(conn, &id))
            .await?
            .ok_or(ManageError::Unauthenticated)?;
        if !holds_registration(&record, token) {
            return Err(ManageError::Unauthenticated);
        }
        let secret_digest = record.row.secret_digest.clone();
        Ok(Registered {
            client: ClientView::try_from(record)?,
            secret_digest,
        })
    }

    /// RFC 7592 update: replaces the client's metadata with `registration` (a full
    /// replace: what it does not say is gone) and its registration access token with a new
    /// one, when `token` is the current one. Its id, secret, origin and state stay.
    pub async fn update_registration(
        &self,
        client_id: &str,
        token: &Secret,
        registration: &Registration,
    ) -> Result<(ClientView, Secret), ManageError> {
        let next = Secret::generate(REGISTRATION_TOKEN_PREFIX);
        let (presented, digest) = (token.clone(), next.digest());
        let new = NewClient::from(registration);
        let now = self.clock.now();
        let view = self
            .write_client(
                Caller::registrant(client_id),
                client_id,
                Change::Other,
                "client.registration_updated",
                move |conn, record| {
                    if !holds_registration(&record, &presented) {
                        return Err(ManageError::Unauthenticated);
                    }
                    let before = ClientView::try_from(record.clone())?;
                    let mut row = record.row.clone();
                    row.name = new.name;
                    row.redirect_uris = super::clients::to_json(&new.redirect_uris);
                    row.post_logout_redirect_uris =
                        super::clients::to_json(&new.post_logout_redirect_uris);
                    row.grant_types = super::clients::to_json(&new.grant_types);
                    row.scopes = super::clients::to_json(&new.scopes);
                    row.token_endpoint_auth_method =
                        new.token_endpoint_auth_method.unwrap_or_default();
                    row.resources = super::clients::to_json(&new.resources);
                    row.application_type = new.application_type;
                    row.client_uri = new.client_uri;
                    row.logo_uri = new.logo_uri;
                    row.registration_token_digest = Some(digest.to_vec());
                    row.updated_at = now;
                    let updated = ClientRecord {
                        row,
                        roles: record.roles,
                    };
                    let after = ClientView::try_from(updated.clone())?;
                    super::clients::validate_row(&updated.row, &after)?;
                    rows::update(conn, &updated.row, &updated.roles)
                        .map_err(store_error_for_client)?;
                    Ok(Written {
                        after: Some(holding(&updated)?),
                        event: AuditEvent::new("client.registration_updated")
                            .subject(after.client_id.clone())
                            .details(serde_json::json!({ "before": before, "after": after })),
                        value: after,
                    })
                },
            )
            .await?;
        Ok((view, next))
    }

    /// RFC 7592 delete: the client and everything issued to it, when `token` is its
    /// registration access token.
    pub async fn delete_registration(
        &self,
        client_id: &str,
        token: &Secret,
    ) -> Result<(), ManageError> {
        let presented = token.clone();
        self.write_client(
            Caller::registrant(client_id),
            client_id,
            Change::Revokes,
            "client.registration_deleted",
            move |conn, record| {
                if !holds_registration(&record, &presented) {
                    return Err(ManageError::Unauthenticated);
                }
                let before = ClientView::try_from(record.clone())?;
                rows::delete(conn, &record.row.client_id).map_err(store_error_for_client)?;
                Ok(Written {
                    value: (),
                    after: None,
                    event: AuditEvent::new("client.registration_deleted")
                        .subject(before.client_id.clone())
                        .details(serde_json::json!({ "before": before })),
                })
            },
        )
        .await
    }

    /// Makes a self-registered client an operator's: its origin becomes the caller's kind
    /// (`cli` or `api`), so the janitor keeps it, and its registration access token stops
    /// working, so only operators change it from now on.
    pub async fn promote_client(
        &self,
        by: impl Into<Caller>,
        client_id: &str,
    ) -> Result<ClientView, ManageError> {
        let by = by.into();
        let to = by.origin();
        let now = self.clock.now();
        self.write_client(
            by,
            client_id,
            Change::Other,
            "client.promoted",
            move |conn, record| {
                let from = ClientOrigin::parse(&record.row.origin);
                if !from.is_some_and(ClientOrigin::is_dynamic) || to.is_dynamic() {
                    return Err(ManageError::Refused(
                        "only a self-registered client can be promoted",
                    ));
                }
                let mut updated = record.clone();
                updated.row.origin = to.as_str().to_owned();
                updated.row.registration_token_digest = None;
                updated.row.updated_at = now;
                rows::update(conn, &updated.row, &updated.roles).map_err(store_error_for_client)?;
                let after = ClientView::try_from(updated.clone())?;
                Ok(Written {
                    after: Some(holding(&updated)?),
                    event: AuditEvent::new("client.promoted")
                        .subject(after.client_id.clone())
                        .details(serde_json::json!({
                            "from": record.row.origin,
                            "to": to.as_str(),
                        })),
                    value: after,
                })
            },
        )
        .await
    }

    /// An initial access token (RFC 7591 section 3) good for `uses` registrations within
    /// `expires_in` seconds; shown once, stored as a digest.
    pub async fn create_registration_token(
        &self,
        by: impl Into<Caller>,
        uses: Option<u32>,
        expires_in: Option<i64>,
    ) -> Result<CreatedRegistrationToken, ManageError> {
        let by = by.into();
        let uses = uses.unwrap_or(DEFAULT_TOKEN_USES);
        if !(1..=MAX_TOKEN_USES).contains(&uses) {
            return Err(super::invalid(
                "uses",
                format!("must be between 1 and {MAX_TOKEN_USES}"),
            ));
        }
        let lifetime = expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME);
        if !(60..=MAX_TOKEN_LIFETIME).contains(&lifetime) {
            return Err(super::invalid(
                "expires_in",
                format!("must be between 60 and {MAX_TOKEN_LIFETIME} seconds"),
            ));
        }
        let token = Secret::generate(INITIAL_ACCESS_TOKEN_PREFIX);
        let now = self.clock.now();
        let row = InitialAccessTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            digest: token.digest().to_vec(),
            uses_left: i64::from(uses),
            expires_at: now + lifetime,
            created_at: now,
        };
        let created = CreatedRegistrationToken {
            id: row.id.clone(),
            token: token.expose().to_owned(),
            uses,
            expires_at: row.expires_at,
        };
        let event = AuditEvent::new("registration_token.created")
            .by(by.actor().clone())
            .subject(row.id.clone())
            .details(serde_json::json!({ "uses": uses, "expires_at": row.expires_at }));
        self.store
            .run_recorded(Change::Other, now, Some(event.clone()), move |conn| {
                tokens::insert(conn, &row)?;
                Ok::<_, ManageError>(((), Some(event)))
            })
            .await?;
        Ok(created)
    }

    /// Uses left on the initial access token `id`, `None` when there is no such token.
    pub async fn registration_token_uses_left(&self, id: &str) -> Result<Option<i64>, ManageError> {
        let id = id.to_owned();
        Ok(self
            .store
            .run(move |conn| tokens::find(conn, &id))
            .await?
            .map(|t| t.uses_left))
    }
}

/// Refuses (`Full`) when, with the client just inserted in this transaction, there are
/// more than `max_clients` clients of `origin`. Counted after the insert, which on SQLite
/// holds the write lock; on Postgres an advisory lock queues registrations so that none
/// counts past another.
pub(super) fn within_bound(
    conn: &mut crate::store::DbConnection,
    origin: ClientOrigin,
    max_clients: u32,
) -> Result<(), ManageError> {
    if let crate::store::DbConnection::Postgres(pg) = conn {
        diesel::connection::SimpleConnection::batch_execute(pg, PG_REGISTRATION_LOCK)
            .map_err(|e| ManageError::Store(e.into()))?;
    }
    let count = rows::count_origin(conn, origin.as_str())?;
    if count > i64::from(max_clients) {
        return Err(ManageError::Full("registered clients"));
    }
    Ok(())
}

/// Names the Postgres advisory lock that queues registrations (any constant shared by
/// every replica, apart from the others').
const PG_REGISTRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7207303)";

/// Whether a client with these grant types was registered with an initial access token
/// (only such clients hold `client_credentials`), so that an update may keep the grant.
pub fn vouched_for(grant_types: &[String]) -> bool {
    grant_types
        .iter()
        .any(|g| g == GrantType::ClientCredentials.as_str())
}
