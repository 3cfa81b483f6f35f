//! Checking a bundle and writing it in one transaction, audited.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::Connection;

use super::format::{
    Bundle, ExportedClient, ExportedUser, FORMAT, ImportReport, NO_PASSWORD, VERSION,
};
use crate::audit::{self, AuditEvent};
use crate::crypto::password::{is_bcrypt, validate_bcrypt_hash};
use crate::manage::clients::{ClientView, to_json, validate_client_id, validate_row};
use crate::manage::users::{UserView, validate_new_user};
use crate::manage::{Actor, ManageError, Service, dedup_sorted, invalid};
use crate::oauth::client::CLIENT_SUBJECT_PREFIX;
use crate::store::StoreError;
use crate::store::models::audit::AuditRow;
use crate::store::models::clients::{self as client_rows, ClientRecord, ClientRow};
use crate::store::models::grants;
use crate::store::models::users::{self as user_rows, UserRecord, UserRow};

/// Whether a stored password hash is one we can verify (or the locked marker); why not.
fn check_password_hash(hash: &str) -> Result<(), String> {
    if hash == NO_PASSWORD {
        return Ok(());
    }
    if is_bcrypt(hash) {
        return validate_bcrypt_hash(hash).map_err(|e| e.to_string());
    }
    if argon2::password_hash::PasswordHash::new(hash)
        .is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
    {
        return Ok(());
    }
    Err("not an argon2 or bcrypt hash".to_owned())
}

/// A user from the file, checked with the rules `user create` applies.
fn user_row(
    u: &ExportedUser,
    include_credentials: bool,
) -> Result<(UserRow, Vec<String>), ManageError> {
    let at = |e: ManageError| match e {
        ManageError::Invalid { field, message } => {
            invalid(field, format!("user `{}`: {message}", u.id))
        }
        other @ (ManageError::NotFound(_)
        | ManageError::Conflict(_)
        | ManageError::Refused(_)
        | ManageError::Denied(_)
        | ManageError::Password(_)
        | ManageError::Store(_)
        | ManageError::Unauthenticated
        | ManageError::Full(_)) => other,
    };
    if u.id.is_empty() || u.id.len() > 128 {
        return Err(invalid(
            "id",
            format!("user `{}`: must be 1 to 128 characters", u.id),
        ));
    }
    // The `sub` of a client's own tokens has this prefix; a user id with it could pass
    // for a client at a resource server (or a client for this user).
    if u.id.starts_with(CLIENT_SUBJECT_PREFIX) {
        return Err(invalid(
            "id",
            format!(
                "user `{}`: must not start with `{CLIENT_SUBJECT_PREFIX}`",
                u.id
            ),
        ));
    }
    let username = validate_new_user(&u.username, u.email.as_deref(), u.name.as_deref(), &u.roles)
        .map_err(at)?;
    let password_hash = match (&u.password_hash, include_credentials) {
        (Some(hash), true) => {
            if let Err(why) = check_password_hash(hash) {
                return Err(invalid("password_hash", format!("user `{}`: {why}", u.id)));
            }
            hash.clone()
        }
        (Some(_), false) | (None, _) => NO_PASSWORD.to_owned(),
    };
    Ok((
        UserRow {
            id: u.id.clone(),
            username,
            email: u.email.clone(),
            email_verified: u.email_verified && u.email.is_some(),
            name: u.name.clone(),
            password_hash,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        },
        dedup_sorted(u.roles.clone()),
    ))
}

/// A client from the file, checked with the rules `client create` applies.
fn client_row(
    c: &ExportedClient,
    include_credentials: bool,
) -> Result<(ClientRow, Vec<String>), ManageError> {
    let at = |e: ManageError| match e {
        ManageError::Invalid { field, message } => {
            invalid(field, format!("client `{}`: {message}", c.client_id))
        }
        other @ (ManageError::NotFound(_)
        | ManageError::Conflict(_)
        | ManageError::Refused(_)
        | ManageError::Denied(_)
        | ManageError::Password(_)
        | ManageError::Store(_)
        | ManageError::Unauthenticated
        | ManageError::Full(_)) => other,
    };
    validate_client_id(&c.client_id).map_err(at)?;
    let secret_digest = match (&c.client_secret_digest, include_credentials) {
        (Some(digest), true) => {
            let bytes = URL_SAFE_NO_PAD
                .decode(digest)
                .ok()
                .filter(|b| b.len() == 32 && c.confidential)
                .ok_or_else(|| {
                    invalid(
                        "client_secret_digest",
                        format!(
                            "client `{}`: must be a base64url SHA-256 digest, for a confidential client",
                            c.client_id
                        ),
                    )
                })?;
            Some(bytes)
        }
        (Some(_), false) | (None, _) => None,
    };
    let registration_token_digest = match (&c.registration_token_digest, include_credentials) {
        (Some(digest), true) => Some(
            URL_SAFE_NO_PAD
                .decode(digest)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    invalid(
                        "registration_token_digest",
                        format!(
                            "client `{}`: must be a base64url SHA-256 digest",
                            c.client_id
                        ),
                    )
                })?,
        ),
        (Some(_), false) | (None, _) => None,
    };
    let scopes: Vec<String> = c.scope.split_whitespace().map(str::to_owned).collect();
    let row = ClientRow {
        client_id: c.client_id.clone(),
        name: c.client_name.trim().to_owned(),
        confidential: c.confidential,
        secret_digest,
        redirect_uris: to_json(&c.redirect_uris),
        post_logout_redirect_uris: to_json(&c.post_logout_redirect_uris),
        // Kept in the file's order (it is the stored order), so a round trip is exact.
        grant_types: to_json(&dedup_in_order(&c.grant_types)),
        scopes: to_json(&dedup_in_order(&scopes)),
        token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
        first_party: c.first_party,
        require_pkce: c.require_pkce,
        access_token_lifetime: c.access_token_lifetime,
        refresh_token_lifetime: c.refresh_token_lifetime,
        disabled: c.disabled,
        created_at: c.created_at,
        updated_at: c.updated_at,
        // A registration of its own on this server; an existing client keeps its own
        // (`import_client`).
        instance: client_rows::new_instance(),
        resources: to_json(&dedup_in_order(&c.resources)),
        require_mfa: c.require_mfa,
        origin: c.origin.clone(),
        // An existing client keeps its own (`import_client`).
        last_used_at: c.last_used_at,
        registration_token_digest,
        application_type: c.application_type.clone(),
        client_uri: c.client_uri.clone(),
        logo_uri: c.logo_uri.clone(),
    };
    let roles = dedup_sorted(c.roles.clone());
    let view = ClientView::try_from(ClientRecord {
        row: row.clone(),
        roles: roles.clone(),
    })?;
    validate_row(&row, &view).map_err(at)?;
    Ok((row, roles))
}

fn dedup_in_order(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

fn duplicate(field: &'static str, value: &str) -> ManageError {
    invalid(field, format!("`{value}` appears more than once"))
}

/// Refuses a bundle that names one user or client twice.
fn check_unique(
    users: &[(UserRow, Vec<String>)],
    clients: &[(ClientRow, Vec<String>)],
) -> Result<(), ManageError> {
    let mut ids = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for (u, _) in users {
        if !ids.insert(u.id.as_str()) {
            return Err(duplicate("id", &u.id));
        }
        if !names.insert(u.username.as_str()) {
            return Err(duplicate("username", &u.username));
        }
    }
    let mut client_ids = std::collections::HashSet::new();
    for (c, _) in clients {
        if !client_ids.insert(c.client_id.as_str()) {
            return Err(duplicate("client_id", &c.client_id));
        }
    }
    Ok(())
}

/// What one object's import did, for the report and the audit log.
enum Change {
    Created(serde_json::Value),
    Updated {
        before: serde_json::Value,
        after: serde_json::Value,
        credentials_changed: bool,
    },
    Unchanged,
}

fn import_user(
    conn: &mut crate::store::DbConnection,
    row: &UserRow,
    roles: &[String],
    include_credentials: bool,
    now: i64,
) -> Result<Change, StoreError> {
    let existing = user_rows::find_by_id(conn, &row.id)?;
    let Some(existing) = existing else {
        user_rows::insert(conn, row, roles)?;
        let view = UserView::from(UserRecord {
            row: row.clone(),
            roles: roles.to_vec(),
        });
        return Ok(Change::Created(serde_json::json!(view)));
    };
    let mut next = row.clone();
    // Without credentials in play, the stored password stays what it is.
    if !include_credentials || row.password_hash == NO_PASSWORD {
        next.password_hash = existing.row.password_hash.clone();
    }
    if next == existing.row && roles == existing.roles.as_slice() {
        return Ok(Change::Unchanged);
    }
    let credentials_changed = next.password_hash != existing.row.password_hash;
    user_rows::update(conn, &next)?;
    // As `user set-password` and `user disable` do: a new password or a disabled account
    // ends what the old state let in.
    if credentials_changed || (next.disabled && !existing.row.disabled) {
        let reason = if credentials_changed {
            "password set by an import"
        } else {
            "user disabled by an import"
        };
        grants::sign_out_everywhere(conn, &row.id, now, reason)?;
    }
    for old in existing.roles.iter().filter(|r| !roles.contains(r)) {
        user_rows::remove_role(conn, &row.id, old)?;
    }
    for new in roles.iter().filter(|r| !existing.roles.contains(r)) {
        user_rows::add_role(conn, &row.id, new)?;
    }
    let before = UserView::from(existing);
    let after = UserView::from(UserRecord {
        row: next,
        roles: roles.to_vec(),
    });
    Ok(Change::Updated {
        before: serde_json::json!(before),
        after: serde_json::json!(after),
        credentials_changed,
    })
}

/// A client as its audit row shows it. A stored client that no longer reads as one is an
/// error that rolls the import back, not a `null` in the audit log.
fn client_json(row: &ClientRow, roles: &[String]) -> Result<serde_json::Value, StoreError> {
    let view = ClientView::try_from(ClientRecord {
        row: row.clone(),
        roles: roles.to_vec(),
    })
    .map_err(|e| match e {
        ManageError::Store(store) => store,
        other @ (ManageError::Invalid { .. }
        | ManageError::NotFound(_)
        | ManageError::Conflict(_)
        | ManageError::Refused(_)
        | ManageError::Denied(_)
        | ManageError::Password(_)
        | ManageError::Unauthenticated
        | ManageError::Full(_)) => {
            StoreError::Corrupt(format!("client `{}`: {other}", row.client_id))
        }
    })?;
    serde_json::to_value(view)
        .map_err(|e| StoreError::Corrupt(format!("client `{}`: {e}", row.client_id)))
}

fn import_client(
    conn: &mut crate::store::DbConnection,
    row: &ClientRow,
    roles: &[String],
    include_credentials: bool,
    now: i64,
) -> Result<Change, StoreError> {
    let existing = client_rows::find(conn, &row.client_id)?;
    let Some(existing) = existing else {
        client_rows::insert(conn, row, roles)?;
        return Ok(Change::Created(client_json(row, roles)?));
    };
    let mut next = row.clone();
    // The same registration, updated: its tokens stay its own, and its use is its own.
    next.instance = existing.row.instance.clone();
    next.last_used_at = existing.row.last_used_at;
    if !include_credentials || row.registration_token_digest.is_none() {
        next.registration_token_digest = existing.row.registration_token_digest.clone();
    }
    if !include_credentials || row.secret_digest.is_none() {
        // Keep the secret in use, unless the client became public.
        next.secret_digest = existing
            .row
            .secret_digest
            .clone()
            .filter(|_| row.confidential);
    }
    if next == existing.row && roles == existing.roles.as_slice() {
        return Ok(Change::Unchanged);
    }
    let credentials_changed = next.secret_digest != existing.row.secret_digest;
    client_rows::update(conn, &next, roles)?;
    if next.disabled && !existing.row.disabled {
        grants::end_client_grants(conn, &row.client_id, now, "client disabled by an import")?;
    }
    Ok(Change::Updated {
        before: client_json(&existing.row, &existing.roles)?,
        after: client_json(&next, roles)?,
        credentials_changed,
    })
}

fn change_event(
    kind: &'static str,
    subject: &str,
    change: Change,
    counts: (&mut usize, &mut usize, &mut usize),
) -> Option<AuditEvent> {
    let (created, updated, unchanged) = counts;
    match change {
        Change::Created(after) => {
            *created += 1;
            Some(
                AuditEvent::new(kind)
                    .subject(subject.to_owned())
                    .details(serde_json::json!({ "action": "created", "after": after })),
            )
        }
        Change::Updated {
            before,
            after,
            credentials_changed,
        } => {
            *updated += 1;
            Some(
                AuditEvent::new(kind)
                    .subject(subject.to_owned())
                    .details(serde_json::json!({
                        "action": "updated",
                        "before": before,
                        "after": after,
                        "credentials_changed": credentials_changed,
                    })),
            )
        }
        Change::Unchanged => {
            *unchanged += 1;
            None
        }
    }
}

impl Service {
    /// Applies a bundle in one transaction: every object is checked first, then created
    /// or updated, with an audit row for each change and one for the import itself.
    pub async fn import_bundle(
        &self,
        actor: &Actor,
        bundle: Bundle,
        include_credentials: bool,
    ) -> Result<ImportReport, ManageError> {
        if bundle.manifest.format != FORMAT || bundle.manifest.version != VERSION {
            return Err(invalid(
                "manifest",
                format!("not a {FORMAT} version {VERSION} export"),
            ));
        }
        let users = bundle
            .users
            .iter()
            .map(|u| user_row(u, include_credentials))
            .collect::<Result<Vec<_>, _>>()?;
        let clients = bundle
            .clients
            .iter()
            .map(|c| client_row(c, include_credentials))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique(&users, &clients)?;
        let credentials_skipped = !include_credentials
            && (bundle.users.iter().any(|u| u.password_hash.is_some())
                || bundle
                    .clients
                    .iter()
                    .any(|c| c.client_secret_digest.is_some()));

        let writes_clients = !clients.is_empty();
        let (now, actor, keys) = (
            self.clock.now(),
            actor.clone(),
            self.store.audit_keys().clone(),
        );
        // An import may disable users and clients or change passwords, which ends their
        // grants: answers remembered from before must not outlive it.
        let outcome = self
            .store
            .run_revoking(move |conn| {
                Ok(conn.transaction::<_, ImportFailure, _>(|conn| {
                    // Take the write lock before the first read, as every user write does:
                    // on SQLite a read transaction that upgrades later fails at once when
                    // another writer (the running server) committed in between, and the
                    // last-admin count below must hold until the import commits.
                    user_rows::lock_role_holders(conn, "admin")?;
                    let admins_before = user_rows::count_enabled_with_role(conn, "admin")?;
                    let mut report = ImportReport {
                        credentials_skipped,
                        ..ImportReport::default()
                    };
                    let mut events = Vec::new();
                    for (row, roles) in &users {
                        let change = import_user(conn, row, roles, include_credentials, now)
                            .map_err(|e| ImportFailure::at("username", &row.id, e))?;
                        events.extend(change_event(
                            "user.imported",
                            &row.id,
                            change,
                            (
                                &mut report.users_created,
                                &mut report.users_updated,
                                &mut report.users_unchanged,
                            ),
                        ));
                    }
                    for (row, roles) in &clients {
                        let change = import_client(conn, row, roles, include_credentials, now)
                            .map_err(|e| ImportFailure::at("client_id", &row.client_id, e))?;
                        events.extend(change_event(
                            "client.imported",
                            &row.client_id,
                            change,
                            (
                                &mut report.clients_created,
                                &mut report.clients_updated,
                                &mut report.clients_unchanged,
                            ),
                        ));
                    }
                    if admins_before > 0 && user_rows::count_enabled_with_role(conn, "admin")? == 0
                    {
                        return Err(ImportFailure::LastAdmin);
                    }
                    events.push(
                        AuditEvent::new("import.completed").details(serde_json::json!({
                            "include_credentials": include_credentials,
                            "report": report,
                        })),
                    );
                    let mut stored: Vec<(AuditEvent, AuditRow)> = Vec::new();
                    for event in events {
                        let event = event.by(actor.clone());
                        let row = audit::append(conn, &keys, now, &event)?;
                        stored.push((event, row));
                    }
                    Ok((report, stored))
                }))
            })
            .await;
        if writes_clients {
            self.store.note_client_change();
        }
        let outcome = outcome?.map_err(|failure| match failure {
            ImportFailure::Store(e) => ManageError::Store(e),
            ImportFailure::Conflict { field, message } => invalid(field, message),
            ImportFailure::LastAdmin => {
                ManageError::Refused("the import would leave no enabled admin")
            }
        })?;
        let (report, stored) = outcome;
        for (event, row) in &stored {
            audit::log_event(event, row);
        }
        Ok(report)
    }
}

/// Why the import transaction rolled back.
#[derive(Debug)]
enum ImportFailure {
    Store(StoreError),
    Conflict {
        field: &'static str,
        message: String,
    },
    LastAdmin,
}

impl From<StoreError> for ImportFailure {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<diesel::result::Error> for ImportFailure {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(err.into())
    }
}

impl ImportFailure {
    fn at(field: &'static str, id: &str, err: StoreError) -> Self {
        match err {
            // A unique index other than the primary key: a username that another user
            // (with another id) already holds in this database.
            StoreError::Conflict => Self::Conflict {
                field,
                message: format!("`{id}` collides with an existing object of another id"),
            },
            other @ (StoreError::Unavailable(_)
            | StoreError::NotFound
            | StoreError::Query(_)
            | StoreError::Corrupt(_)) => Self::Store(other),
        }
    }
}
