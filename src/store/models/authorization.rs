use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{authorization_codes, authorization_requests, consents, sessions};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_requests)]
pub struct AuthorizationRequestRow {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub csrf_digest: Vec<u8>,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// RFC 8707 resources granted to the request, a JSON list.
    pub resources: String,
    pub id_token_hint_subject: Option<String>,
    pub login_session_id: Option<String>,
    /// The network the request came from (the rate limits' counting key), for
    /// `authorize.max_pending_per_address`; None when the server saw no address.
    pub client_key: Option<String>,
    /// `acr_values` as requested (known values only, space-separated).
    pub acr_values: Option<String>,
    /// `ui_locales` as requested, for the language of the pages.
    pub ui_locales: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_digest: Vec<u8>,
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    /// The User-Agent the session signed in with (bounded), for the sessions page.
    pub user_agent: Option<String>,
    /// The client address last seen (as the rate limiter sees it).
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
pub struct AuthorizationCodeRow {
    pub digest: Vec<u8>,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub sid: Option<String>,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub grant_id: Option<String>,
    /// RFC 8707 resources the request was granted, a JSON list.
    pub resources: String,
    /// The `acr` its ID token states.
    pub acr: Option<String>,
}

pub fn insert_request(
    conn: &mut DbConnection,
    row: &AuthorizationRequestRow,
) -> Result<(), StoreError> {
    diesel::insert_into(authorization_requests::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// How many live pending requests may exist: per client network and in all (both at
/// least 1: the configuration has no off switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingBounds {
    pub per_address: u32,
    pub total: u32,
}

/// The bound a refused request would have crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingBound {
    PerAddress,
    Total,
}

impl PendingBound {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerAddress => "per_address",
            Self::Total => "total",
        }
    }
}

/// Names the Postgres advisory lock that queues the inserts of pending requests (any
/// constant shared by every replica, apart from the migration lock's).
const PG_PENDING_LOCK: &str = "SELECT pg_advisory_xact_lock(7207302)";

/// Why the bounded insert's transaction ended without committing.
enum Unstored {
    Store(StoreError),
    Over(PendingBound),
}

impl From<diesel::result::Error> for Unstored {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(err.into())
    }
}

impl From<StoreError> for Unstored {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Stores a pending request only while the live ones (`expires_at > now`) stay within
/// `bounds`, counting itself. Inserts queue so that parallel requests cannot all count the
/// same old number: on SQLite the insert comes first and takes the database's write lock
/// before anything is counted; on Postgres, where READ COMMITTED would let two inserts
/// each miss the other, one advisory lock held to the commit queues them across replicas.
/// Over a bound the transaction rolls back and nothing is stored. Expired rows count for
/// nothing (the janitor deletes them).
pub fn insert_request_within(
    conn: &mut DbConnection,
    row: &AuthorizationRequestRow,
    now: i64,
    bounds: PendingBounds,
) -> Result<Result<(), PendingBound>, StoreError> {
    let outcome = conn.transaction::<(), Unstored, _>(|conn| {
        if let DbConnection::Postgres(pg) = &mut *conn {
            diesel::connection::SimpleConnection::batch_execute(pg, PG_PENDING_LOCK)?;
        }
        insert_request(conn, row)?;
        let live =
            || authorization_requests::table.filter(authorization_requests::expires_at.gt(now));
        if let Some(key) = &row.client_key {
            let n: i64 = live()
                .filter(authorization_requests::client_key.eq(key))
                .count()
                .get_result(conn)?;
            if n > i64::from(bounds.per_address) {
                return Err(Unstored::Over(PendingBound::PerAddress));
            }
        }
        let n: i64 = live().count().get_result(conn)?;
        if n > i64::from(bounds.total) {
            return Err(Unstored::Over(PendingBound::Total));
        }
        Ok(())
    });
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(Unstored::Over(bound)) => Ok(Err(bound)),
        Err(Unstored::Store(err)) => Err(err),
    }
}

pub fn find_request(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<AuthorizationRequestRow>, StoreError> {
    Ok(authorization_requests::table
        .find(id)
        .select(AuthorizationRequestRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records who logged in for this request (the consent step must be the same user).
pub fn bind_request(
    conn: &mut DbConnection,
    id: &str,
    user_id: &str,
    sid: &str,
) -> Result<(), StoreError> {
    diesel::update(authorization_requests::table.find(id))
        .set((
            authorization_requests::user_id.eq(Some(user_id)),
            authorization_requests::session_id.eq(Some(sid)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records that the session `sid` logged in for this request (and answers it).
pub fn mark_login(
    conn: &mut DbConnection,
    id: &str,
    user_id: &str,
    sid: &str,
) -> Result<(), StoreError> {
    diesel::update(authorization_requests::table.find(id))
        .set((
            authorization_requests::user_id.eq(Some(user_id)),
            authorization_requests::session_id.eq(Some(sid)),
            authorization_requests::login_session_id.eq(Some(sid)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the digest of the CSRF token the request's next form must carry.
pub fn set_csrf(conn: &mut DbConnection, id: &str, digest: &[u8]) -> Result<(), StoreError> {
    diesel::update(authorization_requests::table.find(id))
        .set(authorization_requests::csrf_digest.eq(digest))
        .execute(conn)?;
    Ok(())
}

/// Deletes the request; true if this call did (so only one caller finishes it).
pub fn take_request(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(authorization_requests::table.find(id)).execute(conn)? == 1)
}

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_session(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table
        .find(digest)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Moves a session's idle expiry and records when and from where it was last seen, in the
/// one statement every use of a session already costs. An unknown address (None) leaves
/// the one stored.
pub fn touch_session(
    conn: &mut DbConnection,
    digest: &[u8],
    now: i64,
    idle_expires_at: i64,
    ip: Option<&str>,
) -> Result<(), StoreError> {
    let target = sessions::table.find(digest);
    let seen = (
        sessions::last_seen_at.eq(now),
        sessions::idle_expires_at.eq(idle_expires_at),
    );
    match ip {
        Some(ip) => diesel::update(target)
            .set((seen, sessions::ip.eq(Some(ip))))
            .execute(conn)?,
        None => diesel::update(target).set(seen).execute(conn)?,
    };
    Ok(())
}

/// The user's sessions still live at `now`, the most recently seen first.
pub fn live_sessions_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::idle_expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .order((sessions::last_seen_at.desc(), sessions::sid.desc()))
        .select(SessionRow::as_select())
        .load(conn)?)
}

/// Deletes the user's session `sid` (not another user's); the row it deleted, if any.
pub fn delete_session_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    sid: &str,
) -> Result<Option<SessionRow>, StoreError> {
    let target = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::sid.eq(sid));
    let found = target
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?;
    if found.is_some() {
        diesel::delete(target).execute(conn)?;
    }
    Ok(found)
}

pub fn delete_session(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<SessionRow>, StoreError> {
    let found = find_session(conn, digest)?;
    diesel::delete(sessions::table.find(digest)).execute(conn)?;
    Ok(found)
}

pub fn delete_user_sessions(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// Deletes the user's codes not yet redeemed, so a code handed out before a sign-out
/// everywhere cannot be turned into tokens after it. Redeemed codes stay: they name the
/// grant a replay must revoke.
pub fn delete_pending_codes_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        authorization_codes::table
            .filter(authorization_codes::user_id.eq(user_id))
            .filter(authorization_codes::consumed_at.is_null()),
    )
    .execute(conn)?)
}

/// Deletes the authorization requests a login bound to the user, so a consent page left
/// open cannot finish after a sign-out everywhere.
pub fn delete_requests_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        authorization_requests::table.filter(authorization_requests::user_id.eq(user_id)),
    )
    .execute(conn)?)
}

/// `delete_requests_of_user`, sparing the requests bound to the session `keep_sid`.
pub fn delete_other_requests_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    keep_sid: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        authorization_requests::table
            .filter(authorization_requests::user_id.eq(user_id))
            .filter(
                authorization_requests::session_id
                    .ne(keep_sid)
                    .or(authorization_requests::session_id.is_null()),
            ),
    )
    .execute(conn)?)
}

pub fn insert_code(conn: &mut DbConnection, row: &AuthorizationCodeRow) -> Result<(), StoreError> {
    diesel::insert_into(authorization_codes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_code(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<AuthorizationCodeRow>, StoreError> {
    Ok(authorization_codes::table
        .find(digest)
        .select(AuthorizationCodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks the code used and names the grant its redemption creates, in one statement:
/// of concurrent redemptions exactly one gets `true`.
pub fn consume_code(
    conn: &mut DbConnection,
    digest: &[u8],
    now: i64,
    grant_id: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        authorization_codes::table
            .filter(authorization_codes::digest.eq(digest))
            .filter(authorization_codes::consumed_at.is_null()),
    )
    .set((
        authorization_codes::consumed_at.eq(Some(now)),
        authorization_codes::grant_id.eq(Some(grant_id)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn find_consent(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(consents::table
        .find((user_id, client_id))
        .select(consents::scope)
        .first(conn)
        .optional()?)
}

/// The user's remembered consents with their client's name (None when the client is
/// gone), as (client_id, name, scope, created_at, updated_at), by client id.
pub type ConsentListing = (String, Option<String>, String, i64, i64);

pub fn consents_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<ConsentListing>, StoreError> {
    use crate::store::schema::clients;
    Ok(consents::table
        .left_join(clients::table.on(clients::client_id.eq(consents::client_id)))
        .filter(consents::user_id.eq(user_id))
        .order(consents::client_id.asc())
        .select((
            consents::client_id,
            clients::name.nullable(),
            consents::scope,
            consents::created_at,
            consents::updated_at,
        ))
        .load(conn)?)
}

/// Forgets what the user consented to for the client; true when there was a consent.
pub fn delete_consent(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(consents::table.find((user_id, client_id))).execute(conn)? > 0)
}

/// Deletes the user's codes for one client not yet redeemed (see
/// `delete_pending_codes_of_user`).
pub fn delete_pending_codes_of_user_for_client(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        authorization_codes::table
            .filter(authorization_codes::user_id.eq(user_id))
            .filter(authorization_codes::client_id.eq(client_id))
            .filter(authorization_codes::consumed_at.is_null()),
    )
    .execute(conn)?)
}

pub fn save_consent(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        let updated = diesel::update(consents::table.find((user_id, client_id)))
            .set((consents::scope.eq(scope), consents::updated_at.eq(now)))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(consents::table)
                .values((
                    consents::user_id.eq(user_id),
                    consents::client_id.eq(client_id),
                    consents::scope.eq(scope),
                    consents::created_at.eq(now),
                    consents::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Forgets every user's remembered consent to `client_id`: what they agreed to is no
/// longer what the client is (a metadata document's redirect URIs changed). Each user is
/// asked again.
pub fn forget_consents(conn: &mut DbConnection, client_id: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(consents::table.filter(consents::client_id.eq(client_id))).execute(conn)?)
}

/// The columns of a user that a code redemption reads: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = crate::store::schema::users)]
pub struct CodeUserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The code with this digest and its user with the user's roles (sorted), in one query
/// (one round trip; it was three): a row per role, or one row with no role. `None` when
/// there is no such code (a code's user cannot be missing: deleting a user deletes its
/// codes).
pub fn find_code_for_redemption(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<(AuthorizationCodeRow, CodeUserRow, Vec<String>)>, StoreError> {
    use crate::store::schema::{user_roles, users};
    let rows: Vec<(AuthorizationCodeRow, CodeUserRow, Option<String>)> = authorization_codes::table
        .inner_join(users::table.on(users::id.eq(authorization_codes::user_id)))
        .left_join(user_roles::table.on(user_roles::user_id.eq(users::id)))
        .filter(authorization_codes::digest.eq(digest))
        .select((
            AuthorizationCodeRow::as_select(),
            CodeUserRow::as_select(),
            user_roles::role.nullable(),
        ))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let Some((code, user, first_role)) = rows.next() else {
        return Ok(None);
    };
    let mut roles: Vec<String> = first_role
        .into_iter()
        .chain(rows.filter_map(|(_, _, role)| role))
        .collect();
    // The order `users::roles_of` gives, so tokens read the same however they were made.
    roles.sort_unstable();
    Ok(Some((code, user, roles)))
}

/// Revokes the grant a redeemed code created, if it names one, and returns its id: the
/// update comes first, so on SQLite the transaction holds the write lock before it reads.
pub fn revoke_grant_of_code(
    conn: &mut DbConnection,
    digest: &[u8],
    now: i64,
    reason: &str,
) -> Result<Option<String>, StoreError> {
    use crate::store::schema::grants;
    let of_code = authorization_codes::table
        .filter(authorization_codes::digest.eq(digest))
        .select(authorization_codes::grant_id);
    diesel::update(
        grants::table
            .filter(grants::id.nullable().eq_any(of_code))
            .filter(grants::revoked_at.is_null()),
    )
    .set((
        grants::revoked_at.eq(Some(now)),
        grants::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(authorization_codes::table
        .find(digest)
        .select(authorization_codes::grant_id)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

pub fn set_ceremony(
    conn: &mut DbConnection,
    id: &str,
    ceremony: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(authorization_requests::table.find(id))
        .set(authorization_requests::ceremony.eq(ceremony))
        .execute(conn)?;
    Ok(())
}

/// Reads and clears the request's ceremony (call inside a transaction).
pub fn take_ceremony(conn: &mut DbConnection, id: &str) -> Result<Option<String>, StoreError> {
    let found: Option<Option<String>> = authorization_requests::table
        .find(id)
        .select(authorization_requests::ceremony)
        .first(conn)
        .optional()?;
    let ceremony = found.flatten();
    if ceremony.is_some() {
        set_ceremony(conn, id, None)?;
    }
    Ok(ceremony)
}

pub fn set_session_ceremony(
    conn: &mut DbConnection,
    digest: &[u8],
    ceremony: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(digest))
        .set(sessions::ceremony.eq(ceremony))
        .execute(conn)?;
    Ok(())
}

/// Reads and clears the session's ceremony (call inside a transaction).
pub fn take_session_ceremony(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<String>, StoreError> {
    let found: Option<Option<String>> = sessions::table
        .find(digest)
        .select(sessions::ceremony)
        .first(conn)
        .optional()?;
    let ceremony = found.flatten();
    if ceremony.is_some() {
        set_session_ceremony(conn, digest, None)?;
    }
    Ok(ceremony)
}

/// A session that proved more (a second factor): its methods grow and its cookie changes
/// (a new id for a new privilege, OWASP), keeping its `sid` and `auth_time`. False when
/// the session is gone.
pub fn upgrade_session(
    conn: &mut DbConnection,
    old_digest: &[u8],
    new_digest: &[u8],
    amr: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(sessions::table.find(old_digest))
        .set((sessions::id_digest.eq(new_digest), sessions::amr.eq(amr)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Deletes the user's other sessions (a password change keeps the one that made it).
pub fn delete_other_sessions(
    conn: &mut DbConnection,
    user_id: &str,
    keep_sid: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.ne(keep_sid)),
    )
    .execute(conn)?)
}
