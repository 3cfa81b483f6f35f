use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{authorization_requests, client_roles, clients};

/// A client as stored. List columns hold JSON arrays of strings.
#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub struct ClientRow {
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
    pub created_at: i64,
    pub updated_at: i64,
    /// Which registration of `client_id` this is: set once when the row is created (see
    /// `new_instance`), never changed, so a client deleted and registered again under the
    /// same id is told apart from the old one by the tokens it was issued.
    #[diesel(skip_update)]
    pub instance: String,
    /// RFC 8707 resources the client may name, a JSON list.
    pub resources: String,
    /// Every user signing in through this client must use a second factor.
    pub require_mfa: bool,
    /// Who registered it: `cli`, `api`, `registration` or `metadata_document`
    /// (`oauth::client::ClientOrigin`).
    pub origin: String,
    /// When a token was last issued to it. Written only by `touch_last_used`: an update
    /// of the client's settings must not move it back.
    #[diesel(skip_update)]
    pub last_used_at: Option<i64>,
    /// SHA-256 of its RFC 7592 registration access token (dynamic clients only).
    pub registration_token_digest: Option<Vec<u8>>,
    /// OIDC Dynamic Registration `application_type` (`web`, `native`); dynamic clients only.
    pub application_type: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
}

/// A fresh `instance` for a client row about to be created. Compared for equality only,
/// never a credential: uniqueness is what matters, and 122 random bits give it.
pub fn new_instance() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("confidential", &self.confidential)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub row: ClientRow,
    pub roles: Vec<String>,
}

pub fn insert(
    conn: &mut DbConnection,
    row: &ClientRow,
    roles: &[String],
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::insert_into(clients::table)
            .values(row)
            .execute(conn)?;
        set_roles(conn, &row.client_id, roles)
    })
}

/// Replaces the client's row and roles in one transaction.
pub fn update(
    conn: &mut DbConnection,
    row: &ClientRow,
    roles: &[String],
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        let n = diesel::update(clients::table.find(&row.client_id))
            .set(row)
            .execute(conn)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        diesel::delete(client_roles::table.filter(client_roles::client_id.eq(&row.client_id)))
            .execute(conn)?;
        set_roles(conn, &row.client_id, roles)
    })
}

fn set_roles(conn: &mut DbConnection, client_id: &str, roles: &[String]) -> Result<(), StoreError> {
    for role in roles {
        diesel::insert_into(client_roles::table)
            .values((
                client_roles::client_id.eq(client_id),
                client_roles::role.eq(role),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
    let row: Option<ClientRow> = clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => {
            let roles = roles_of(conn, &row.client_id)?;
            Ok(Some(ClientRecord { row, roles }))
        }
        None => Ok(None),
    }
}

/// Locks one client's row until the transaction ends and reads it with its roles; `None`
/// when there is none. Postgres locks the row; SQLite takes the database's write lock
/// with a write that changes nothing, so the read and the write that follows are one
/// serialised step.
pub fn lock(conn: &mut DbConnection, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
    let found = match conn {
        DbConnection::Postgres(pg) => clients::table
            .find(client_id)
            .select(clients::client_id)
            .for_update()
            .first::<String>(pg)
            .optional()?
            .is_some(),
        DbConnection::Sqlite(_) => {
            diesel::update(clients::table.find(client_id))
                .set(clients::updated_at.eq(clients::updated_at))
                .execute(conn)?
                == 1
        }
    };
    if found {
        find(conn, client_id)
    } else {
        Ok(None)
    }
}

fn roles_of(conn: &mut DbConnection, client_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(client_roles::table
        .filter(client_roles::client_id.eq(client_id))
        .select(client_roles::role)
        .order(client_roles::role.asc())
        .load(conn)?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ClientRecord>, StoreError> {
    let rows: Vec<ClientRow> = clients::table
        .select(ClientRow::as_select())
        .order(clients::client_id.asc())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let roles = roles_of(conn, &row.client_id)?;
            Ok(ClientRecord { row, roles })
        })
        .collect()
}

/// One column of the enabled clients, no roles: the origin cache reloads it whole.
pub fn enabled_redirect_uris(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(clients::table
        .filter(clients::disabled.eq(false))
        .select(clients::redirect_uris)
        .load(conn)?)
}

pub fn set_secret_digest(
    conn: &mut DbConnection,
    client_id: &str,
    digest: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    let n = diesel::update(clients::table.find(client_id))
        .set((
            clients::secret_digest.eq(Some(digest)),
            clients::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Notes that a token was issued to the client at `now`, unless its `last_used_at` is
/// already later than `stale_before` (so a busy client writes once per period, not once
/// per token). Only the registration `instance` names is touched: a client deleted and
/// registered again meanwhile is another client.
pub fn touch_last_used(
    conn: &mut DbConnection,
    client_id: &str,
    instance: &str,
    now: i64,
    stale_before: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        clients::table
            .filter(clients::client_id.eq(client_id))
            .filter(clients::instance.eq(instance))
            .filter(
                clients::last_used_at
                    .is_null()
                    .or(clients::last_used_at.le(stale_before)),
            ),
    )
    .set(clients::last_used_at.eq(now))
    .execute(conn)?)
}

/// How many clients of this origin there are.
pub fn count_origin(conn: &mut DbConnection, origin: &str) -> Result<i64, StoreError> {
    Ok(clients::table
        .filter(clients::origin.eq(origin))
        .count()
        .get_result(conn)?)
}

/// Up to `limit` clients of the given origins unused since before `before`: issued no
/// token since then, or never issued one and registered before then.
pub fn idle(
    conn: &mut DbConnection,
    origins: &[&str],
    before: i64,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(clients::table
        .filter(clients::origin.eq_any(origins))
        .filter(
            clients::last_used_at.lt(before).or(clients::last_used_at
                .is_null()
                .and(clients::created_at.lt(before))),
        )
        .select(clients::client_id)
        .order(clients::client_id.asc())
        .limit(limit)
        .load(conn)?)
}

pub fn delete(conn: &mut DbConnection, client_id: &str) -> Result<(), StoreError> {
    // Its pending requests go with it. They no longer cascade (a request of the account
    // pages' built-in client has no row to reference), and one left behind must not finish
    // for a client registered later under the same id.
    diesel::delete(
        authorization_requests::table.filter(authorization_requests::client_id.eq(client_id)),
    )
    .execute(conn)?;
    let n = diesel::delete(clients::table.find(client_id)).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
