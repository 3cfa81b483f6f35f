//! The access-token deny-list (RFC 7009) and the one query that decides whether a signed,
//! unexpired token is still good: it asks the database, the single truth every replica
//! shares, so a revocation anywhere is seen everywhere at once.

use diesel::dsl::exists;
use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{clients, grants, revoked_tokens, users};

/// Puts `jti` on the deny-list until `expires_at`. Revoking twice is not an error.
pub fn revoke_access_token(
    conn: &mut DbConnection,
    jti: &str,
    client_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    let inserted = diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::client_id.eq(client_id),
            revoked_tokens::revoked_at.eq(now),
            revoked_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// What the database says about a token whose signature and expiry already passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStanding {
    /// `jti` is on the deny-list.
    pub jti_revoked: bool,
    /// The client exists and is enabled.
    pub client_active: bool,
    /// The user's username, when the user exists and is enabled.
    pub username: Option<String>,
    /// The grant exists and is not revoked (a grant the janitor deleted is gone).
    pub grant_active: bool,
}

/// One round trip for every check, however many apply: introspection runs it on every
/// call, so its cost is the endpoint's cost. Absent ids are looked up as the empty
/// string, which names no row.
pub fn token_standing(
    conn: &mut DbConnection,
    jti: &str,
    client_id: &str,
    user_id: Option<&str>,
    grant_id: Option<&str>,
) -> Result<TokenStanding, StoreError> {
    let (jti_revoked, client_active, username, grant_active) = diesel::select((
        exists(revoked_tokens::table.filter(revoked_tokens::jti.eq(jti))),
        exists(
            clients::table
                .filter(clients::client_id.eq(client_id))
                .filter(clients::disabled.eq(false)),
        ),
        users::table
            .filter(users::id.eq(user_id.unwrap_or("")))
            .filter(users::disabled.eq(false))
            .select(users::username)
            .single_value(),
        exists(
            grants::table
                .filter(grants::id.eq(grant_id.unwrap_or("")))
                .filter(grants::revoked_at.is_null()),
        ),
    ))
    .get_result::<(bool, bool, Option<String>, bool)>(conn)?;
    Ok(TokenStanding {
        jti_revoked,
        client_active,
        username,
        grant_active,
    })
}
