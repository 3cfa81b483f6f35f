//! Deleting what has expired, a bounded batch at a time: select at most `limit` expired
//! keys, delete those (a `LIMIT` inside `DELETE` is not portable), return how many went;
//! the caller loops.
//! Several replicas running these at once is safe: a row is deleted once, and a loser's
//! statement simply deletes fewer rows.

use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{
    authorization_codes, authorization_requests, grants, login_failures, refresh_tokens,
    revoked_tokens, sessions,
};

/// The tables the janitor keeps bounded, by name (the metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purgeable {
    AuthorizationRequests,
    AuthorizationCodes,
    Sessions,
    RefreshTokens,
    Grants,
    RevokedTokens,
    LoginFailures,
}

impl Purgeable {
    pub const ALL: [Self; 7] = [
        Self::AuthorizationRequests,
        Self::AuthorizationCodes,
        Self::Sessions,
        // Refresh tokens before grants: a grant's cascade then has little left to do.
        Self::RefreshTokens,
        Self::Grants,
        Self::RevokedTokens,
        Self::LoginFailures,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Self::AuthorizationRequests => "authorization_requests",
            Self::AuthorizationCodes => "authorization_codes",
            Self::Sessions => "sessions",
            Self::RefreshTokens => "refresh_tokens",
            Self::Grants => "grants",
            Self::RevokedTokens => "revoked_tokens",
            Self::LoginFailures => "login_failures",
        }
    }

    /// Deletes up to `limit` rows that died before `before`.
    pub fn purge(
        self,
        conn: &mut DbConnection,
        before: i64,
        limit: i64,
    ) -> Result<usize, StoreError> {
        let n = match self {
            Self::AuthorizationRequests => {
                use authorization_requests::dsl::{authorization_requests as t, expires_at, id};
                let doomed: Vec<String> = t
                    .select(id)
                    .filter(expires_at.lt(before))
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(id.eq_any(&doomed))).execute(conn)?
            }
            Self::AuthorizationCodes => {
                use authorization_codes::dsl::{authorization_codes as t, digest, expires_at};
                let doomed: Vec<Vec<u8>> = t
                    .select(digest)
                    .filter(expires_at.lt(before))
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(digest.eq_any(&doomed))).execute(conn)?
            }
            Self::Sessions => {
                use sessions::dsl::{
                    absolute_expires_at, id_digest, idle_expires_at, sessions as t,
                };
                let doomed: Vec<Vec<u8>> = t
                    .select(id_digest)
                    .filter(
                        absolute_expires_at
                            .lt(before)
                            .or(idle_expires_at.lt(before)),
                    )
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(id_digest.eq_any(&doomed))).execute(conn)?
            }
            Self::RefreshTokens => {
                use refresh_tokens::dsl::{digest, expires_at, refresh_tokens as t};
                let doomed: Vec<Vec<u8>> = t
                    .select(digest)
                    .filter(expires_at.lt(before))
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(digest.eq_any(&doomed))).execute(conn)?
            }
            Self::Grants => {
                use grants::dsl::{expires_at, grants as t, id};
                let doomed: Vec<String> = t
                    .select(id)
                    .filter(expires_at.lt(before))
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(id.eq_any(&doomed))).execute(conn)?
            }
            Self::RevokedTokens => {
                use revoked_tokens::dsl::{expires_at, jti, revoked_tokens as t};
                let doomed: Vec<String> = t
                    .select(jti)
                    .filter(expires_at.lt(before))
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(jti.eq_any(&doomed))).execute(conn)?
            }
            Self::LoginFailures => {
                use login_failures::dsl::{last_failure_at, login_failures as t, throttle_key};
                let doomed: Vec<String> = t
                    .select(throttle_key)
                    .filter(last_failure_at.lt(before))
                    .limit(limit)
                    .load(conn)?;
                diesel::delete(t.filter(throttle_key.eq_any(&doomed))).execute(conn)?
            }
        };
        Ok(n)
    }

    /// Rows in the table now (for the size gauge).
    pub fn count(self, conn: &mut DbConnection) -> Result<i64, StoreError> {
        let n = match self {
            Self::AuthorizationRequests => {
                authorization_requests::table.count().get_result(conn)?
            }
            Self::AuthorizationCodes => authorization_codes::table.count().get_result(conn)?,
            Self::Sessions => sessions::table.count().get_result(conn)?,
            Self::RefreshTokens => refresh_tokens::table.count().get_result(conn)?,
            Self::Grants => grants::table.count().get_result(conn)?,
            Self::RevokedTokens => revoked_tokens::table.count().get_result(conn)?,
            Self::LoginFailures => login_failures::table.count().get_result(conn)?,
        };
        Ok(n)
    }
}
