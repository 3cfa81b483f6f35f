use diesel::prelude::*;

use super::escape_like;
use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{user_roles, users};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A user with its roles, as the management layer sees it.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub row: UserRow,
    pub roles: Vec<String>,
}

pub fn insert(conn: &mut DbConnection, row: &UserRow, roles: &[String]) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        diesel::insert_into(users::table)
            .values(row)
            .execute(conn)?;
        insert_roles(conn, &row.id, roles)?;
        Ok(())
    })
}

fn insert_roles(
    conn: &mut DbConnection,
    user_id: &str,
    roles: &[String],
) -> Result<(), StoreError> {
    for role in roles {
        diesel::insert_into(user_roles::table)
            .values((user_roles::user_id.eq(user_id), user_roles::role.eq(role)))
            .execute(conn)?;
    }
    Ok(())
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn roles_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role)
        .order(user_roles::role.asc())
        .load(conn)?)
}

pub fn find_by_username(
    conn: &mut DbConnection,
    normalised: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<UserRow> = users::table
        .filter(users::username.eq(normalised))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    with_roles(conn, row)
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<UserRecord>, StoreError> {
    let row: Option<UserRow> = users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    with_roles(conn, row)
}

fn with_roles(
    conn: &mut DbConnection,
    row: Option<UserRow>,
) -> Result<Option<UserRecord>, StoreError> {
    match row {
        Some(row) => {
            let roles = roles_of(conn, &row.id)?;
            Ok(Some(UserRecord { row, roles }))
        }
        None => Ok(None),
    }
}

/// Users ordered by username, optionally filtered by a substring of username or email.
pub fn list(
    conn: &mut DbConnection,
    search: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(term) = search {
        // The term is a bound parameter; LIKE wildcards in it are escaped.
        let pattern = format!("%{}%", escape_like(term));
        query = query.filter(
            users::username
                .like(pattern.clone())
                .escape('\\')
                .or(users::email.like(pattern).escape('\\')),
        );
    }
    let rows: Vec<UserRow> = query
        .order(users::username.asc())
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let roles = roles_of(conn, &row.id)?;
            Ok(UserRecord { row, roles })
        })
        .collect()
}

pub fn update(conn: &mut DbConnection, row: &UserRow) -> Result<(), StoreError> {
    let n = diesel::update(users::table.find(&row.id))
        .set(row)
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces the hash only if it is still the one that was verified, so a concurrent
/// password change is never overwritten by a rehash-on-login.
pub fn replace_password_hash(
    conn: &mut DbConnection,
    id: &str,
    expected_old: &str,
    new_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::password_hash.eq(expected_old)),
    )
    .set((users::password_hash.eq(new_hash), users::updated_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn add_role(conn: &mut DbConnection, user_id: &str, role: &str) -> Result<bool, StoreError> {
    let exists: i64 = user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .filter(user_roles::role.eq(role))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(user_roles::table)
        .values((user_roles::user_id.eq(user_id), user_roles::role.eq(role)))
        .execute(conn)?;
    Ok(true)
}

pub fn remove_role(conn: &mut DbConnection, user_id: &str, role: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(
        user_roles::table
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::role.eq(role)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// How many enabled users hold `role` (guards removing the last admin).
pub fn count_enabled_with_role(conn: &mut DbConnection, role: &str) -> Result<i64, StoreError> {
    Ok(user_roles::table
        .inner_join(users::table)
        .filter(user_roles::role.eq(role))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)?)
}

/// Locks the enabled holders of `role` until the transaction ends, so that a change that
/// may take one of them away counts them and changes in one step: two admins demoting
/// each other at once are serialised, and the second sees the first's result. Postgres
/// locks the rows in id order (no deadlock between two such transactions); SQLite takes
/// the database's write lock with a write that changes nothing, which serialises every
/// writer the same way and avoids upgrading a read transaction later.
pub fn lock_role_holders(conn: &mut DbConnection, role: &str) -> Result<(), StoreError> {
    let holders = user_roles::table
        .filter(user_roles::role.eq(role))
        .select(user_roles::user_id);
    match conn {
        DbConnection::Postgres(pg) => {
            users::table
                .filter(users::disabled.eq(false))
                .filter(users::id.eq_any(holders))
                .select(users::id)
                .order(users::id.asc())
                .for_update()
                .load::<String>(pg)?;
        }
        DbConnection::Sqlite(_) => {
            diesel::update(
                users::table
                    .filter(users::disabled.eq(false))
                    .filter(users::id.eq_any(holders)),
            )
            .set(users::updated_at.eq(users::updated_at))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Locks one user's row until the transaction ends (see `lock_role_holders` for how on
/// each backend) and reads it with its roles; `None` when there is no such user.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<Option<UserRecord>, StoreError> {
    let found = match conn {
        DbConnection::Postgres(pg) => users::table
            .find(id)
            .select(users::id)
            .for_update()
            .first::<String>(pg)
            .optional()?
            .is_some(),
        DbConnection::Sqlite(_) => {
            diesel::update(users::table.find(id))
                .set(users::updated_at.eq(users::updated_at))
                .execute(conn)?
                == 1
        }
    };
    if found {
        find_by_id(conn, id)
    } else {
        Ok(None)
    }
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    let n = diesel::delete(users::table.find(id)).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
