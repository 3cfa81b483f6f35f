//! Reading the database into a bundle.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::Connection;

use super::format::{Bundle, ExportedClient, ExportedUser, FORMAT, Manifest, NO_PASSWORD, VERSION};
use crate::manage::clients::ClientView;
use crate::manage::{ManageError, Service};
use crate::store::models::clients::{self as client_rows, ClientRecord};
use crate::store::models::users::{self as user_rows, UserRecord};

fn exported_user(record: UserRecord, include_credentials: bool) -> ExportedUser {
    let UserRecord { row, roles } = record;
    ExportedUser {
        password_hash: (include_credentials && row.password_hash != NO_PASSWORD)
            .then_some(row.password_hash),
        id: row.id,
        username: row.username,
        email: row.email,
        email_verified: row.email_verified,
        name: row.name,
        disabled: row.disabled,
        roles,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn exported_client(
    record: ClientRecord,
    include_credentials: bool,
) -> Result<ExportedClient, ManageError> {
    let digest = record.row.secret_digest.clone();
    let registration_digest = record.row.registration_token_digest.clone();
    let view = ClientView::try_from(record)?;
    Ok(ExportedClient {
        client_id: view.client_id,
        client_name: view.client_name,
        confidential: view.confidential,
        redirect_uris: view.redirect_uris,
        post_logout_redirect_uris: view.post_logout_redirect_uris,
        grant_types: view.grant_types,
        scope: view.scope,
        token_endpoint_auth_method: view.token_endpoint_auth_method,
        first_party: view.first_party,
        require_pkce: view.require_pkce,
        access_token_lifetime: view.access_token_lifetime,
        refresh_token_lifetime: view.refresh_token_lifetime,
        disabled: view.disabled,
        roles: view.roles,
        created_at: view.created_at,
        updated_at: view.updated_at,
        resources: view.resources,
        require_mfa: view.require_mfa,
        client_secret_digest: digest
            .filter(|_| include_credentials)
            .map(|d| URL_SAFE_NO_PAD.encode(d)),
        registration_token_digest: registration_digest
            .filter(|_| include_credentials)
            .map(|d| URL_SAFE_NO_PAD.encode(d)),
        origin: view.origin,
        last_used_at: view.last_used_at,
        application_type: view.application_type,
        client_uri: view.client_uri,
        logo_uri: view.logo_uri,
    })
}

impl Service {
    /// Reads every client and user in one transaction.
    pub async fn export_bundle(&self, include_credentials: bool) -> Result<Bundle, ManageError> {
        let (users, clients) = self
            .store
            .run(|conn| {
                conn.transaction(|conn| {
                    let mut users = Vec::new();
                    loop {
                        let offset = i64::try_from(users.len()).unwrap_or(i64::MAX);
                        let page = user_rows::list(conn, None, offset, 1000)?;
                        if page.is_empty() {
                            break;
                        }
                        users.extend(page);
                    }
                    Ok((users, client_rows::list(conn)?))
                })
            })
            .await?;
        let users: Vec<ExportedUser> = users
            .into_iter()
            .map(|u| exported_user(u, include_credentials))
            .collect();
        let clients = clients
            .into_iter()
            .map(|c| exported_client(c, include_credentials))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Bundle {
            manifest: Manifest {
                format: FORMAT.to_owned(),
                version: VERSION,
                exported_at: self.clock.now(),
                include_credentials,
                users: users.len(),
                clients: clients.len(),
            },
            users,
            clients,
        })
    }
}
