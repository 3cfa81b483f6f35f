//! Whether a token still stands: the access-token deny-list (RFC 7009) and the batched
//! query introspection asks on every call. The SQL is in `models::revocation`.

use super::audit::{AuditEvent, Change};
use super::coalesce::Coalescer;
use super::models::revocation;
use super::{Store, StoreError};

/// The ids one token's standing depends on; absent ids name no row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandingQuery {
    pub jti: String,
    pub client_id: String,
    /// The client registration the token was issued to; `None` asks only whether a client
    /// of that id is enabled.
    pub client_instance: Option<String>,
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
}

/// What the database says about a token whose signature and expiry already passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStanding {
    /// `jti` is on the deny-list.
    pub jti_revoked: bool,
    /// The client exists, is enabled, and (when asked) is the registration named.
    pub client_active: bool,
    /// The user's username, when the user exists and is enabled.
    pub username: Option<String>,
    /// The grant exists and is not revoked (a grant the janitor deleted is gone).
    pub grant_active: bool,
}

/// Standing queries that arrive together share one statement (see `coalesce`).
#[derive(Debug, Clone)]
pub struct StandingBatches(Coalescer<StandingQuery, TokenStanding>);

impl StandingBatches {
    /// At most `leaders` batches in flight, each asking about at most `max_batch` tokens.
    pub fn new(store: Store, leaders: usize, max_batch: usize) -> Self {
        Self(Coalescer::new(
            store,
            revocation::token_standings,
            leaders,
            max_batch,
        ))
    }

    /// The token's standing, from a query that began after this call.
    pub async fn ask(&self, query: StandingQuery) -> Result<TokenStanding, StoreError> {
        self.0.ask(query).await
    }
}

impl Store {
    /// Puts an access token's `jti` on the deny-list until `until` and records `event` in
    /// the same transaction. Revoking twice is not an error.
    pub async fn deny_access_token_with_audit(
        &self,
        jti: String,
        client_id: String,
        now: i64,
        until: i64,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let meant = event.clone();
        self.run_audited(Change::Revokes, now, Some(meant), move |conn| {
            revocation::revoke_access_token(conn, &jti, &client_id, now, until)?;
            Ok(Some(((), event)))
        })
        .await
        .map(|_| ())
    }
}
