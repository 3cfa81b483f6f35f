//! Registered clients as the protocol code reads them: one named lookup returning a plain
//! record. Parsing and checking the stored values is the reader's job
//! (`oauth::client::registered`), so a corrupt row is refused in one place.

use super::models::clients::{self as rows, ClientRecord};
use super::{Store, StoreError};

/// A client as stored. List fields hold the JSON arrays of strings the columns hold.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredClient {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub secret_digest: Option<Vec<u8>>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub token_endpoint_auth_method: String,
    pub first_party: bool,
    pub require_pkce: bool,
    pub access_token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub disabled: bool,
    pub roles: Vec<String>,
    /// Which registration of `client_id` this is (see `models::clients::ClientRow`).
    pub instance: String,
    pub resources: String,
    pub require_mfa: bool,
    /// `cli`, `api`, `registration` or `metadata_document`.
    pub origin: String,
    pub last_used_at: Option<i64>,
}

// Never the secret digest.
impl std::fmt::Debug for StoredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredClient")
            .field("client_id", &self.client_id)
            .field("confidential", &self.confidential)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl From<ClientRecord> for StoredClient {
    fn from(ClientRecord { row, roles }: ClientRecord) -> Self {
        Self {
            client_id: row.client_id,
            name: row.name,
            confidential: row.confidential,
            secret_digest: row.secret_digest,
            redirect_uris: row.redirect_uris,
            post_logout_redirect_uris: row.post_logout_redirect_uris,
            grant_types: row.grant_types,
            scopes: row.scopes,
            token_endpoint_auth_method: row.token_endpoint_auth_method,
            first_party: row.first_party,
            require_pkce: row.require_pkce,
            access_token_lifetime: row.access_token_lifetime,
            refresh_token_lifetime: row.refresh_token_lifetime,
            disabled: row.disabled,
            roles,
            instance: row.instance,
            resources: row.resources,
            require_mfa: row.require_mfa,
            origin: row.origin,
            last_used_at: row.last_used_at,
        }
    }
}

impl Store {
    /// The client with this id and its roles.
    pub async fn find_client(&self, client_id: String) -> Result<Option<StoredClient>, StoreError> {
        Ok(self
            .run(move |conn| rows::find(conn, &client_id))
            .await?
            .map(StoredClient::from))
    }

    /// Notes that a token was issued at `now` to this registration of the client, unless
    /// it was noted after `stale_before` already. Whether a row changed is of no interest
    /// to the caller.
    pub async fn note_client_used(
        &self,
        client_id: String,
        instance: String,
        now: i64,
        stale_before: i64,
    ) -> Result<(), StoreError> {
        self.run(move |conn| rows::touch_last_used(conn, &client_id, &instance, now, stale_before))
            .await
            .map(|_| ())
    }

    /// The `redirect_uris` (each a JSON list) of every enabled client: what the origins
    /// a browser app may call from are made of (`oauth::client::origins`).
    pub async fn enabled_redirect_uris(&self) -> Result<Vec<String>, StoreError> {
        self.run(rows::enabled_redirect_uris).await
    }
}
