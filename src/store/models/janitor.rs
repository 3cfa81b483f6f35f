//! Deleting what has expired, a bounded batch at a time: select at most `limit` expired
//! keys, delete those (a `LIMIT` inside `DELETE` is not portable), return how many went;
//! the caller loops.
//! Several replicas running these at once is safe: a row is deleted once, and a loser's
//! statement simply deletes fewer rows.

use diesel::prelude::*;

use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{
    account_tokens, authorization_codes, authorization_requests, grants, initial_access_tokens,
    login_failures, mail_outbox, refresh_tokens, replica_leases, revoked_tokens, sessions,
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
    ReplicaLeases,
    InitialAccessTokens,
    AccountTokens,
    /// Sent and failed messages (`email.keep_days` after they finished); queued ones stay.
    MailOutbox,
}

impl Purgeable {
    pub const ALL: [Self; 11] = [
        Self::AuthorizationRequests,
        Self::AuthorizationCodes,
        Self::Sessions,
        // Refresh tokens before grants: a grant's cascade then has little left to do.
        Self::RefreshTokens,
        Self::Grants,
        Self::RevokedTokens,
        Self::LoginFailures,
        Self::ReplicaLeases,
        Self::InitialAccessTokens,
        Self::AccountTokens,
        Self::MailOutbox,
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
            Self::ReplicaLeases => "replica_leases",
            Self::InitialAccessTokens => "initial_access_tokens",
            Self::AccountTokens => "account_tokens",
            Self::MailOutbox => "mail_outbox",
        }
    }

    /// Deletes up to `limit` rows that died before `before`.
    pub fn purge(
        self,
        conn: &mut DbConnection,
        before: i64,
        limit: i64,
    ) -> Result<usize, StoreError> {
        // Select up to `limit` keys of dead rows, then delete those rows.
        macro_rules! purge {
            ($table:ident, $key:ident, $key_type:ty, $dead:expr) => {{
                let doomed: Vec<$key_type> = $table::table
                    .select($table::$key)
                    .filter($dead)
                    .limit(limit)
                    .load(conn)?;
                diesel::delete($table::table.filter($table::$key.eq_any(&doomed))).execute(conn)?
            }};
        }
        let n = match self {
            Self::AuthorizationRequests => purge!(
                authorization_requests,
                id,
                String,
                authorization_requests::expires_at.lt(before)
            ),
            Self::AuthorizationCodes => purge!(
                authorization_codes,
                digest,
                Vec<u8>,
                authorization_codes::expires_at.lt(before)
            ),
            Self::Sessions => purge!(
                sessions,
                id_digest,
                Vec<u8>,
                sessions::absolute_expires_at
                    .lt(before)
                    .or(sessions::idle_expires_at.lt(before))
            ),
            Self::RefreshTokens => purge!(
                refresh_tokens,
                digest,
                Vec<u8>,
                refresh_tokens::expires_at.lt(before)
            ),
            Self::Grants => purge!(grants, id, String, grants::expires_at.lt(before)),
            Self::RevokedTokens => purge!(
                revoked_tokens,
                jti,
                String,
                revoked_tokens::expires_at.lt(before)
            ),
            Self::LoginFailures => purge!(
                login_failures,
                throttle_key,
                String,
                login_failures::last_failure_at.lt(before)
            ),
            // Leases of replicas that stopped without giving them up, an hour after they
            // ran out by the database's clock, which wrote them: `before` is ignored, so
            // a replica's clock, however wrong, never takes away a live lease.
            Self::ReplicaLeases => {
                let dead = super::agreement::now_ms(conn)?.saturating_sub(3_600_000);
                purge!(
                    replica_leases,
                    id,
                    String,
                    replica_leases::expires_at_ms.lt(dead)
                )
            }
            // Expired, or every use spent: either way it registers nothing more.
            Self::InitialAccessTokens => purge!(
                initial_access_tokens,
                id,
                String,
                initial_access_tokens::expires_at
                    .lt(before)
                    .or(initial_access_tokens::uses_left.le(0))
            ),
            // Spent ones too, once expired: until then a second use finds it spent.
            Self::AccountTokens => purge!(
                account_tokens,
                digest,
                Vec<u8>,
                account_tokens::expires_at.lt(before)
            ),
            // `finished_at` is set only when a message is sent or given up.
            Self::MailOutbox => {
                purge!(mail_outbox, id, String, mail_outbox::finished_at.lt(before))
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
            Self::ReplicaLeases => replica_leases::table.count().get_result(conn)?,
            Self::InitialAccessTokens => initial_access_tokens::table.count().get_result(conn)?,
            Self::AccountTokens => account_tokens::table.count().get_result(conn)?,
            Self::MailOutbox => mail_outbox::table.count().get_result(conn)?,
        };
        Ok(n)
    }
}
