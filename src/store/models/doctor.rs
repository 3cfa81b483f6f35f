//! Read-only queries for `crate::manage::doctor`: the few columns each check looks at, in
//! one statement each, so a check costs a query and not a walk over every record.

use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{audit_events, clients, leases, user_factors, user_roles, users};

/// What the checks read of a client: its settings, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ClientSettings {
    pub client_id: String,
    pub confidential: bool,
    /// JSON lists, as stored.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub require_pkce: bool,
}

/// Every enabled client's settings, by client_id. A disabled client can be used by no one.
pub fn enabled_clients(conn: &mut DbConnection) -> Result<Vec<ClientSettings>, StoreError> {
    Ok(clients::table
        .filter(clients::disabled.eq(false))
        .select((
            clients::client_id,
            clients::confidential,
            clients::redirect_uris,
            clients::post_logout_redirect_uris,
            clients::grant_types,
            clients::require_pkce,
        ))
        .order(clients::client_id.asc())
        .load(conn)?)
}

/// Enabled users holding one of `roles` with no confirmed second factor, as (username,
/// role) pairs ordered by username, at most `limit`; and how many such pairs there are.
pub fn without_second_factor(
    conn: &mut DbConnection,
    roles: &[String],
    limit: i64,
) -> Result<(Vec<(String, String)>, i64), StoreError> {
    let with_factor = user_factors::table
        .filter(user_factors::confirmed.eq(true))
        .select(user_factors::user_id);
    let query = || {
        user_roles::table
            .inner_join(users::table)
            .filter(user_roles::role.eq_any(roles))
            .filter(users::disabled.eq(false))
            .filter(users::id.ne_all(with_factor))
    };
    let found = query()
        .select((users::username, user_roles::role))
        .order((users::username.asc(), user_roles::role.asc()))
        .limit(limit)
        .load(conn)?;
    let total = query().count().get_result(conn)?;
    Ok((found, total))
}

/// When the oldest audit row still stored that was linked with audit key `key_id` was
/// written: the key has been in use since then at least.
pub fn first_linked_with(conn: &mut DbConnection, key_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::key_id.eq(key_id))
        .select(diesel::dsl::min(audit_events::occurred_at))
        .first::<Option<i64>>(conn)?)
}

/// A lease's expiry, if it was ever taken and not released.
pub fn lease_expiry(conn: &mut DbConnection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(leases::table
        .filter(leases::name.eq(name))
        .select(leases::expires_at)
        .first(conn)
        .optional()?)
}
