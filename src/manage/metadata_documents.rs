//! Clients from client ID metadata documents, written: the `DocumentClients` the protocol
//! side (`oauth::registration::metadata_clients`) calls once a fetched document has
//! passed the registration policy. The same paths as every other client write
//! (`clients::create_client_with`, `clients::write_client`), so `clients::validate_row`'s
//! rules for self-registered clients hold (no roles, no `admin`, consent and PKCE always),
//! every write is audited, and the number of such clients is bounded by
//! `registration.max_clients`.

use std::net::IpAddr;

use super::authority::Caller;
use super::clients::{ClientView, Creation, NewClient, Written, store_error_for_client, to_json};
use super::registration::within_bound;
use super::{ManageError, Service, dedup_sorted};
use crate::audit::AuditEvent;
use crate::oauth::client::ClientOrigin;
use crate::oauth::registration::Registration;
use crate::oauth::registration::metadata_clients::{DocumentClients, SaveError, Saving};
use crate::store::audit::Change;
use crate::store::models::authorization;
use crate::store::models::clients::{self as rows, ClientRecord, ClientRow};

/// The fields of `row` a document decides, as `registration` says them.
fn described(row: &ClientRow, registration: &Registration, now: i64) -> ClientRow {
    let new = NewClient::from(registration);
    let mut next = row.clone();
    next.name = new.name.trim().to_owned();
    next.redirect_uris = to_json(&new.redirect_uris);
    next.post_logout_redirect_uris = to_json(&new.post_logout_redirect_uris);
    // Sorted as `create_client` writes them, so an unchanged document compares equal.
    next.grant_types = to_json(&dedup_sorted(new.grant_types));
    next.scopes = to_json(&dedup_sorted(new.scopes));
    next.token_endpoint_auth_method = new.token_endpoint_auth_method.unwrap_or_default();
    next.resources = to_json(&dedup_sorted(new.resources));
    next.application_type = new.application_type;
    next.client_uri = new.client_uri;
    next.logo_uri = new.logo_uri;
    next.updated_at = now;
    next
}

/// Whether two rows say the same, `updated_at` aside.
fn same(a: &ClientRow, b: &ClientRow) -> bool {
    let mut b = b.clone();
    b.updated_at = a.updated_at;
    *a == b
}

impl Service {
    /// Creates the client of the document at `client_id`, or brings it up to date with
    /// `registration` (audited as `client.metadata_document_updated`, and only when
    /// something changed). A client of another origin under that id (an operator
    /// registered or promoted it) is left alone. `from`: whose request made us fetch.
    pub async fn save_document_client(
        &self,
        client_id: &str,
        registration: &Registration,
        max_clients: u32,
        from: Option<IpAddr>,
    ) -> Result<(), ManageError> {
        let id = client_id.to_owned();
        let current = self.store.run(move |conn| rows::find(conn, &id)).await?;
        let Some(record) = current else {
            return self
                .create_document_client(client_id, registration, max_clients, from)
                .await;
        };
        if record.row.origin != ClientOrigin::MetadataDocument.as_str() {
            return Ok(());
        }
        let now = self.clock.now();
        if same(&record.row, &described(&record.row, registration, now)) {
            return Ok(());
        }
        let registration = registration.clone();
        self.write_client(
            Caller::registrant(client_id),
            client_id,
            Change::Other,
            "client.metadata_document_updated",
            move |conn, record| {
                // Promoted meanwhile: an operator's now, and nothing of ours to write.
                if record.row.origin != ClientOrigin::MetadataDocument.as_str() {
                    return Err(ManageError::Conflict(super::CLIENT_ID_TAKEN));
                }
                let before = ClientView::try_from(record.clone())?;
                let updated = ClientRecord {
                    row: described(&record.row, &registration, now),
                    roles: record.roles,
                };
                let after = ClientView::try_from(updated.clone())?;
                super::clients::validate_row(&updated.row, &after)?;
                rows::update(conn, &updated.row, &updated.roles).map_err(store_error_for_client)?;
                // Users agreed to a client that sent them back to where it said then; one
                // that now sends them elsewhere (a taken-over host, say) asks again.
                let moved = before.redirect_uris != after.redirect_uris;
                let forgotten = if moved {
                    authorization::forget_consents(conn, &after.client_id)?
                } else {
                    0
                };
                Ok(Written {
                    after: Some(super::clients::holding(&updated)?),
                    event: AuditEvent::new("client.metadata_document_updated")
                        .subject(after.client_id.clone())
                        .details(serde_json::json!({
                            "before": before,
                            "after": after,
                            "consents_forgotten": forgotten,
                            "ip": from.map(|ip| ip.to_string()),
                        })),
                    value: (),
                })
            },
        )
        .await
    }

    async fn create_document_client(
        &self,
        client_id: &str,
        registration: &Registration,
        max_clients: u32,
        from: Option<IpAddr>,
    ) -> Result<(), ManageError> {
        let mut new = NewClient::from(registration);
        new.client_id = Some(client_id.to_owned());
        new.origin = Some(ClientOrigin::MetadataDocument);
        let along = move |conn: &mut crate::store::DbConnection, _now: i64| {
            within_bound(conn, ClientOrigin::MetadataDocument, max_clients)?;
            Ok(serde_json::json!({
                "origin": ClientOrigin::MetadataDocument.as_str(),
                "ip": from.map(|ip| ip.to_string()),
            }))
        };
        self.create_client_with(
            Caller::registrant(client_id),
            new,
            Creation {
                registration_token_digest: None,
                event_type: Some("client.registered"),
                along: Some(Box::new(along)),
            },
        )
        .await
        .map(|_| ())
    }
}

/// The protocol side's writer. Settings are read per call: `max_clients` is the
/// configuration's.
pub struct DocumentWriter {
    pub service: Service,
    pub max_clients: u32,
}

impl DocumentClients for DocumentWriter {
    fn save<'a>(
        &'a self,
        client_id: &'a str,
        registration: &'a Registration,
        from: Option<IpAddr>,
    ) -> Saving<'a> {
        Box::pin(async move {
            match self
                .service
                .save_document_client(client_id, registration, self.max_clients, from)
                .await
            {
                // Another request wrote it meanwhile, or it is an operator's: the caller
                // reads back whatever is stored.
                Ok(()) | Err(ManageError::Conflict(_)) => Ok(()),
                Err(ManageError::Full(_)) => Err(SaveError::Full),
                Err(ManageError::Store(err)) => Err(SaveError::Store(err)),
                Err(
                    err @ (ManageError::Invalid { .. }
                    | ManageError::Refused(_)
                    | ManageError::Denied(_)
                    | ManageError::NotFound(_)
                    | ManageError::Unauthenticated
                    | ManageError::Password(_)),
                ) => Err(SaveError::Refused(err.to_string())),
            }
        })
    }
}
