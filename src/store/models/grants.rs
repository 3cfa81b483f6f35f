use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{clients, grants, refresh_tokens, user_roles, users};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = grants)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// RFC 8707 resources granted, a JSON list.
    pub resources: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub digest: Vec<u8>,
    pub grant_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
}

pub fn insert_grant(conn: &mut DbConnection, grant: &GrantRow) -> Result<(), StoreError> {
    diesel::insert_into(grants::table)
        .values(grant)
        .execute(conn)?;
    Ok(())
}

pub fn insert_refresh_token(
    conn: &mut DbConnection,
    row: &RefreshTokenRow,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The refresh token with this digest and its grant.
pub fn find_refresh_token(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<(RefreshTokenRow, GrantRow)>, StoreError> {
    Ok(refresh_tokens::table
        .inner_join(grants::table)
        .filter(refresh_tokens::digest.eq(digest))
        .select((RefreshTokenRow::as_select(), GrantRow::as_select()))
        .first(conn)
        .optional()?)
}

/// What a refresh needs to decide, read together: the token, its grant, the grant's
/// client as it is now, and for a user's grant the user's standing and roles (`None` when
/// the user no longer exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLookup {
    pub token: RefreshTokenRow,
    pub grant: GrantRow,
    pub client: GrantClient,
    pub user: Option<GrantUser>,
}

/// The grant's client as the database holds it now (not as a cache remembers it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantClient {
    pub disabled: bool,
    /// The JSON list of scopes the client may be granted now.
    pub scopes: String,
    pub instance: String,
    /// The JSON list of RFC 8707 resources the client may name now.
    pub resources: String,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantUser {
    pub disabled: bool,
    pub roles: Vec<String>,
}

type RefreshRow = (
    RefreshTokenRow,
    GrantRow,
    (bool, String, String, String, String),
    Option<bool>,
    Option<String>,
);

/// The refresh token with this digest, its grant, the grant's client now, and the grant's
/// user with its roles, in one query (one round trip on Postgres): a row per role, or one
/// row with no role.
pub fn find_refresh_token_for_use(
    conn: &mut DbConnection,
    digest: &[u8],
) -> Result<Option<RefreshLookup>, StoreError> {
    let rows: Vec<RefreshRow> = refresh_tokens::table
        .inner_join(grants::table)
        .inner_join(clients::table.on(clients::client_id.eq(grants::client_id)))
        .left_join(users::table.on(grants::user_id.eq(users::id.nullable())))
        .left_join(user_roles::table.on(user_roles::user_id.eq(users::id)))
        .filter(refresh_tokens::digest.eq(digest))
        .select((
            RefreshTokenRow::as_select(),
            GrantRow::as_select(),
            (
                clients::disabled,
                clients::scopes,
                clients::instance,
                clients::resources,
                clients::origin,
            ),
            users::disabled.nullable(),
            user_roles::role.nullable(),
        ))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let Some((
        token,
        grant,
        (client_disabled, scopes, instance, client_resources, origin),
        disabled,
        first_role,
    )) = rows.next()
    else {
        return Ok(None);
    };
    let user = disabled.map(|disabled| {
        let mut roles: Vec<String> = first_role
            .into_iter()
            .chain(rows.filter_map(|(_, _, _, _, role)| role))
            .collect();
        // The order `users::roles_of` gives, so tokens read the same however they were made.
        roles.sort_unstable();
        GrantUser { disabled, roles }
    });
    Ok(Some(RefreshLookup {
        token,
        grant,
        client: GrantClient {
            disabled: client_disabled,
            scopes,
            instance,
            resources: client_resources,
            origin,
        },
        user,
    }))
}

/// Marks the token used if nobody has yet. Exactly one concurrent caller gets `true`.
/// Only through `rotate_refresh_token`, so a token is never spent without a successor.
fn consume_refresh_token(
    conn: &mut DbConnection,
    digest: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::digest.eq(digest))
            .filter(refresh_tokens::rotated_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Rotation in one transaction: marks `digest` used if nobody has yet and stores its
/// successor. `false` (and nothing stored) when another presenter won. Together, so a
/// failure between the two can never leave a family with its token used and no successor.
pub fn rotate_refresh_token(
    conn: &mut DbConnection,
    digest: &[u8],
    now: i64,
    next: &RefreshTokenRow,
) -> Result<bool, StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        return rotate_in_one_statement(pg, digest, now, next);
    }
    conn.transaction(|conn| {
        if !consume_refresh_token(conn, digest, now)? {
            return Ok(false);
        }
        insert_refresh_token(conn, next)?;
        Ok(true)
    })
}

/// `rotate_refresh_token` on Postgres: one statement is one transaction there, so the
/// update and the insert go together in one round trip instead of four (BEGIN, UPDATE,
/// INSERT, COMMIT). The insert reads the update's result: nothing is inserted when another
/// presenter spent the token first (under READ COMMITTED a concurrent update waits for
/// the winner's commit, then sees `rotated_at` set and matches nothing), and a failed
/// insert undoes the update with the statement.
fn rotate_in_one_statement(
    pg: &mut diesel::pg::PgConnection,
    digest: &[u8],
    now: i64,
    next: &RefreshTokenRow,
) -> Result<bool, StoreError> {
    use diesel::sql_types::{BigInt, Binary, Text};
    let inserted = diesel::sql_query(
        "WITH spent AS ( \
             UPDATE refresh_tokens SET rotated_at = $1 \
             WHERE digest = $2 AND rotated_at IS NULL \
             RETURNING digest \
         ) \
         INSERT INTO refresh_tokens (digest, grant_id, issued_at, expires_at, rotated_at) \
         SELECT $3, $4, $5, $6, NULL FROM spent",
    )
    .bind::<BigInt, _>(now)
    .bind::<Binary, _>(digest)
    .bind::<Binary, _>(&next.digest)
    .bind::<Text, _>(&next.grant_id)
    .bind::<BigInt, _>(next.issued_at)
    .bind::<BigInt, _>(next.expires_at)
    .execute(pg)?;
    Ok(inserted == 1)
}

/// Revokes a grant (idempotent: the first reason and time are kept).
pub fn revoke_grant(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
    reason: &str,
) -> Result<(), StoreError> {
    diesel::update(
        grants::table
            .filter(grants::id.eq(id))
            .filter(grants::revoked_at.is_null()),
    )
    .set((
        grants::revoked_at.eq(Some(now)),
        grants::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(())
}

/// True when the grant was revoked (or no longer exists): the deny-list check behind
/// access tokens that carry a grant id.
pub fn grant_is_revoked(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    let row: Option<Option<i64>> = grants::table
        .find(id)
        .select(grants::revoked_at)
        .first(conn)
        .optional()?;
    Ok(!matches!(row, Some(None)))
}

/// A user's grants that are neither revoked nor expired, newest first.
pub fn active_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Vec<GrantRow>, StoreError> {
    Ok(grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked_at.is_null())
        .filter(grants::expires_at.gt(now))
        .order(grants::created_at.desc())
        .select(GrantRow::as_select())
        .load(conn)?)
}

/// Ids of a user's grants not yet revoked (expired ones included: revoking them is
/// harmless and leaves nothing to doubt).
pub fn unrevoked_for_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked_at.is_null())
        .order(grants::created_at.asc())
        .select(grants::id)
        .load(conn)?)
}

/// What `sign_out_everywhere` ended, for the audit row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedOut {
    /// Ids of the grants revoked (each a refresh-token family and its access tokens).
    pub grants: Vec<String>,
    pub sessions: usize,
    pub codes: usize,
    pub requests: usize,
}

/// Ends everything that lets the user in without their credentials again: revokes every
/// grant (so every refresh-token family and, through the `gid` check, every access token
/// issued under it), deletes their browser sessions, their codes not yet redeemed and the
/// authorization requests their login is bound to. One transaction (a savepoint inside
/// the caller's), so the change that calls for it and the sign-out commit together.
///
/// Called when an operator sets a password, a user is disabled (by hand or by an import),
/// and when an operator revokes a user's sessions (a user who changes their own password
/// keeps the session they did it from: `sign_out_elsewhere`). Resetting a user's second factors
/// (issue 20) must call it too. The caller runs it through `Store::run_revoking`, so
/// remembered standings are dropped.
pub fn sign_out_everywhere(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
    reason: &str,
) -> Result<SignedOut, StoreError> {
    sign_out(conn, user_id, None, now, reason)
}

/// `sign_out_everywhere` except for one browser session, the one that asked for the change
/// (a password changed on the account page): every grant is revoked, so every refresh-token
/// family ends, and every other session of the user, their codes not yet redeemed and the
/// requests bound to their other sessions go. The session `keep_sid` stays, and with it
/// the requests it answers.
pub fn sign_out_elsewhere(
    conn: &mut DbConnection,
    user_id: &str,
    keep_sid: &str,
    now: i64,
    reason: &str,
) -> Result<SignedOut, StoreError> {
    sign_out(conn, user_id, Some(keep_sid), now, reason)
}

fn sign_out(
    conn: &mut DbConnection,
    user_id: &str,
    keep_sid: Option<&str>,
    now: i64,
    reason: &str,
) -> Result<SignedOut, StoreError> {
    conn.transaction(|conn| {
        let grants = unrevoked_for_user(conn, user_id)?;
        // By user, not by the ids just read: a grant stored in between is revoked too.
        diesel::update(
            grants::table
                .filter(grants::user_id.eq(user_id))
                .filter(grants::revoked_at.is_null()),
        )
        .set((
            grants::revoked_at.eq(Some(now)),
            grants::revoked_reason.eq(Some(reason)),
        ))
        .execute(conn)?;
        let (sessions, requests) = match keep_sid {
            None => (
                super::authorization::delete_user_sessions(conn, user_id)?,
                super::authorization::delete_requests_of_user(conn, user_id)?,
            ),
            Some(keep) => (
                super::authorization::delete_other_sessions(conn, user_id, keep)?,
                super::authorization::delete_other_requests_of_user(conn, user_id, keep)?,
            ),
        };
        let codes = super::authorization::delete_pending_codes_of_user(conn, user_id)?;
        Ok(SignedOut {
            grants,
            sessions,
            codes,
            requests,
        })
    })
}

/// Ends every grant one user holds with one client (the user revoked the app on their
/// account page): its refresh-token families and the access tokens issued under them.
/// Returns the ids revoked.
pub fn end_user_client_grants(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    let target = grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::client_id.eq(client_id))
        .filter(grants::revoked_at.is_null());
    let ids: Vec<String> = target.select(grants::id).load(conn)?;
    diesel::update(target)
        .set((
            grants::revoked_at.eq(Some(now)),
            grants::revoked_reason.eq(Some(reason)),
        ))
        .execute(conn)?;
    Ok(ids)
}

/// Ends every grant of a client (its users' refresh-token families and the access tokens
/// issued under them), when the client is disabled: enabling it again later does not
/// bring them back. Returns how many were revoked. Codes and requests need nothing: a
/// disabled client cannot redeem or finish them.
pub fn end_client_grants(
    conn: &mut DbConnection,
    client_id: &str,
    now: i64,
    reason: &str,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        grants::table
            .filter(grants::client_id.eq(client_id))
            .filter(grants::revoked_at.is_null()),
    )
    .set((
        grants::revoked_at.eq(Some(now)),
        grants::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?)
}

/// Stores a new grant and, when given, its first refresh token: both or neither. A lone
/// grant is one statement; on Postgres a grant with its refresh token is one statement
/// too (one round trip instead of BEGIN, two INSERTs and COMMIT).
pub fn insert_grant_with_refresh(
    conn: &mut DbConnection,
    grant: &GrantRow,
    refresh: Option<&RefreshTokenRow>,
) -> Result<(), StoreError> {
    let Some(refresh) = refresh else {
        return insert_grant(conn, grant);
    };
    if let DbConnection::Postgres(pg) = conn {
        let inserted = pg_issue(pg, None, grant, Some(refresh))?;
        return if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::Corrupt(
                "a new grant's refresh token was not stored".into(),
            ))
        };
    }
    conn.transaction(|conn| {
        insert_grant(conn, grant)?;
        insert_refresh_token(conn, refresh)
    })
}

/// Spends an authorization code and stores the grant its redemption creates (with its
/// first refresh token, when given) in one transaction: of concurrent redemptions exactly
/// one gets `true`, and a failure stores neither the spending nor the grant. On Postgres
/// one statement (see `pg_issue`); on SQLite the update runs first, so the transaction
/// holds the write lock from its first statement.
pub fn take_code_and_insert_grant(
    conn: &mut DbConnection,
    code_digest: &[u8],
    now: i64,
    grant: &GrantRow,
    refresh: Option<&RefreshTokenRow>,
) -> Result<bool, StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        return Ok(pg_issue(pg, Some((code_digest, now)), grant, refresh)? == 1);
    }
    conn.transaction(|conn| {
        if !super::authorization::consume_code(conn, code_digest, now, &grant.id)? {
            return Ok(false);
        }
        insert_grant(conn, grant)?;
        if let Some(refresh) = refresh {
            insert_refresh_token(conn, refresh)?;
        }
        Ok(true)
    })
}

/// Statements of `pg_issue`, one per shape; each step reads the one before, so nothing is
/// inserted when another redemption spent the code first (under READ COMMITTED a
/// concurrent update waits for the winner's commit, then matches nothing). $1..$7 are the
/// grant's columns.
// `resources` is bound last in every statement ($11, $10 or $13), after the parameters the
// statements had before it.
const PG_GRANT_WITH_REFRESH: &str = "WITH granted AS ( \
         INSERT INTO grants (id, client_id, user_id, scope, auth_time, created_at, expires_at, resources) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $11) RETURNING id) \
     INSERT INTO refresh_tokens (digest, grant_id, issued_at, expires_at, rotated_at) \
     SELECT $8, id, $9, $10, NULL FROM granted";
const PG_CODE_GRANT: &str = "WITH spent AS ( \
         UPDATE authorization_codes SET consumed_at = $9, grant_id = $1 \
         WHERE digest = $8 AND consumed_at IS NULL RETURNING digest) \
     INSERT INTO grants (id, client_id, user_id, scope, auth_time, created_at, expires_at, resources) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $10 FROM spent";
const PG_CODE_GRANT_WITH_REFRESH: &str = "WITH spent AS ( \
         UPDATE authorization_codes SET consumed_at = $12, grant_id = $1 \
         WHERE digest = $11 AND consumed_at IS NULL RETURNING digest), \
     granted AS ( \
         INSERT INTO grants (id, client_id, user_id, scope, auth_time, created_at, expires_at, resources) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $13 FROM spent RETURNING id) \
     INSERT INTO refresh_tokens (digest, grant_id, issued_at, expires_at, rotated_at) \
     SELECT $8, id, $9, $10, NULL FROM granted";

/// One statement (one transaction, one round trip on Postgres) that optionally spends a
/// code, then inserts a grant and optionally its refresh token. Returns the rows the last
/// insert stored: 1, or 0 when the code was spent already.
fn pg_issue(
    pg: &mut diesel::pg::PgConnection,
    code: Option<(&[u8], i64)>,
    grant: &GrantRow,
    refresh: Option<&RefreshTokenRow>,
) -> Result<usize, StoreError> {
    use diesel::sql_types::{BigInt, Binary, Nullable, Text};
    let sql = match (code, refresh) {
        (Some(_), Some(_)) => PG_CODE_GRANT_WITH_REFRESH,
        (Some(_), None) => PG_CODE_GRANT,
        (None, Some(_)) => PG_GRANT_WITH_REFRESH,
        (None, None) => {
            return Ok(diesel::insert_into(grants::table)
                .values(grant)
                .execute(pg)?);
        }
    };
    let query = diesel::sql_query(sql)
        .bind::<Text, _>(&grant.id)
        .bind::<Text, _>(&grant.client_id)
        .bind::<Nullable<Text>, _>(grant.user_id.as_deref())
        .bind::<Text, _>(&grant.scope)
        .bind::<Nullable<BigInt>, _>(grant.auth_time)
        .bind::<BigInt, _>(grant.created_at)
        .bind::<BigInt, _>(grant.expires_at);
    Ok(match (code, refresh) {
        (Some((digest, now)), Some(r)) => query
            .bind::<Binary, _>(&r.digest)
            .bind::<BigInt, _>(r.issued_at)
            .bind::<BigInt, _>(r.expires_at)
            .bind::<Binary, _>(digest)
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(&grant.resources)
            .execute(pg)?,
        (Some((digest, now)), None) => query
            .bind::<Binary, _>(digest)
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(&grant.resources)
            .execute(pg)?,
        (None, Some(r)) => query
            .bind::<Binary, _>(&r.digest)
            .bind::<BigInt, _>(r.issued_at)
            .bind::<BigInt, _>(r.expires_at)
            .bind::<Text, _>(&grant.resources)
            .execute(pg)?,
        (None, None) => 0,
    })
}
