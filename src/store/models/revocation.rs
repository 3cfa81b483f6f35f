//! The access-token deny-list (RFC 7009) and the one query that decides whether a signed,
//! unexpired token is still good: it asks the database, the single truth every replica
//! shares, so a revocation anywhere is seen everywhere at once.

use std::collections::{HashMap, HashSet};

use diesel::dsl::exists;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{clients, grants, revoked_tokens, users};
pub use crate::store::standing::{StandingQuery, TokenStanding};

/// Puts `jti` on the deny-list until `expires_at`. Revoking twice is not an error, and
/// not a failed statement either (`ON CONFLICT DO NOTHING`): on Postgres a failed insert
/// would abort the transaction it runs in, and with it the audit row committed alongside.
pub fn revoke_access_token(
    conn: &mut DbConnection,
    jti: &str,
    client_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    // diesel's multi-backend connection cannot express ON CONFLICT: the same statement is
    // written once and run on the concrete connection.
    macro_rules! deny {
        ($conn:expr) => {
            diesel::insert_into(revoked_tokens::table)
                .values((
                    revoked_tokens::jti.eq(jti),
                    revoked_tokens::client_id.eq(client_id),
                    revoked_tokens::revoked_at.eq(now),
                    revoked_tokens::expires_at.eq(expires_at),
                ))
                .on_conflict_do_nothing()
                .execute($conn)
        };
    }
    match conn {
        DbConnection::Sqlite(c) => deny!(c),
        DbConnection::Postgres(c) => deny!(c),
    }?;
    Ok(())
}

/// One round trip for every check, however many apply: introspection runs it on every
/// call, so its cost is the endpoint's cost. Absent ids are looked up as the empty
/// string, which names no row.
pub fn token_standing(
    conn: &mut DbConnection,
    jti: &str,
    client_id: &str,
    client_instance: Option<&str>,
    user_id: Option<&str>,
    grant_id: Option<&str>,
) -> Result<TokenStanding, StoreError> {
    let (jti_revoked, instance, username, grant_active) = diesel::select((
        exists(revoked_tokens::table.filter(revoked_tokens::jti.eq(jti))),
        clients::table
            .filter(clients::client_id.eq(client_id))
            .filter(clients::disabled.eq(false))
            .select(clients::instance)
            .single_value(),
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
    .get_result::<(bool, Option<String>, Option<String>, bool)>(conn)?;
    Ok(TokenStanding {
        jti_revoked,
        client_active: client_matches(instance.as_deref(), client_instance),
        username,
        grant_active,
    })
}

/// An enabled client was found (`found`: its instance) and, when the token names a
/// registration, it is that one.
fn client_matches(found: Option<&str>, asked: Option<&str>) -> bool {
    match (found, asked) {
        (Some(found), Some(asked)) => found == asked,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

// Which table a row of the batched query came from.
const ROW_REVOKED_JTI: i32 = 1;
const ROW_ACTIVE_CLIENT: i32 = 2;
const ROW_ACTIVE_USER: i32 = 3;
const ROW_ACTIVE_GRANT: i32 = 4;

/// The standing of many tokens in one round trip: one `UNION ALL` over the four tables,
/// each side an `IN` list of the distinct ids asked for. Under load, introspection calls
/// that arrive together share this query (see `store::coalesce`), so the database does
/// one statement's work for a whole batch. A batch of one takes the single-token query.
pub fn token_standings(
    conn: &mut DbConnection,
    queries: &[StandingQuery],
) -> Result<Vec<TokenStanding>, StoreError> {
    if let [only] = queries {
        return Ok(vec![token_standing(
            conn,
            &only.jti,
            &only.client_id,
            only.client_instance.as_deref(),
            only.user_id.as_deref(),
            only.grant_id.as_deref(),
        )?]);
    }
    let distinct = |ids: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        let set: HashSet<&str> = ids.filter(|id| !id.is_empty()).collect();
        set.into_iter().map(str::to_owned).collect()
    };
    let jtis = distinct(&mut queries.iter().map(|q| q.jti.as_str()));
    let client_ids = distinct(&mut queries.iter().map(|q| q.client_id.as_str()));
    let user_ids = distinct(&mut queries.iter().filter_map(|q| q.user_id.as_deref()));
    let grant_ids = distinct(&mut queries.iter().filter_map(|q| q.grant_id.as_deref()));

    // diesel's multi-backend connection cannot express UNION ALL: the same query is
    // written once and run on the concrete connection.
    macro_rules! standing_rows {
        ($conn:expr) => {
            revoked_tokens::table
                .filter(revoked_tokens::jti.eq_any(&jtis))
                .select((
                    ROW_REVOKED_JTI.into_sql::<Integer>(),
                    revoked_tokens::jti,
                    None::<String>.into_sql::<Nullable<Text>>(),
                ))
                .union_all(
                    clients::table
                        .filter(clients::client_id.eq_any(&client_ids))
                        .filter(clients::disabled.eq(false))
                        .select((
                            ROW_ACTIVE_CLIENT.into_sql::<Integer>(),
                            clients::client_id,
                            clients::instance.nullable(),
                        )),
                )
                .union_all(
                    users::table
                        .filter(users::id.eq_any(&user_ids))
                        .filter(users::disabled.eq(false))
                        .select((
                            ROW_ACTIVE_USER.into_sql::<Integer>(),
                            users::id,
                            users::username.nullable(),
                        )),
                )
                .union_all(
                    grants::table
                        .filter(grants::id.eq_any(&grant_ids))
                        .filter(grants::revoked_at.is_null())
                        .select((
                            ROW_ACTIVE_GRANT.into_sql::<Integer>(),
                            grants::id,
                            None::<String>.into_sql::<Nullable<Text>>(),
                        )),
                )
                .load::<(i32, String, Option<String>)>($conn)
        };
    }
    let rows = match conn {
        DbConnection::Sqlite(c) => standing_rows!(c),
        DbConnection::Postgres(c) => standing_rows!(c),
    }?;

    let mut revoked = HashSet::new();
    let mut clients_on = HashMap::new();
    let mut users_on = HashMap::new();
    let mut grants_on = HashSet::new();
    // The third column: a client's instance, a user's username, otherwise nothing.
    for (kind, id, text) in rows {
        match kind {
            ROW_REVOKED_JTI => {
                revoked.insert(id);
            }
            ROW_ACTIVE_CLIENT => {
                clients_on.insert(id, text);
            }
            ROW_ACTIVE_USER => {
                users_on.insert(id, text);
            }
            ROW_ACTIVE_GRANT => {
                grants_on.insert(id);
            }
            other => {
                return Err(StoreError::Corrupt(format!(
                    "standing query returned row kind {other}"
                )));
            }
        }
    }
    Ok(queries
        .iter()
        .map(|q| TokenStanding {
            jti_revoked: revoked.contains(&q.jti),
            client_active: client_matches(
                clients_on.get(&q.client_id).and_then(Option::as_deref),
                q.client_instance.as_deref(),
            ),
            username: q
                .user_id
                .as_ref()
                .and_then(|id| users_on.get(id).cloned().flatten()),
            grant_active: q.grant_id.as_ref().is_some_and(|id| grants_on.contains(id)),
        })
        .collect())
}
