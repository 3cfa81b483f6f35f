//! Operations on users and clients, shared by the CLI and the admin API so that neither
//! can do what the other cannot, and both keep the same rules and audit trail.

pub mod audit;
pub mod authority;
pub mod clients;
pub mod doctor;
pub mod factors;
pub mod keys;
pub mod metadata_documents;
pub mod registration;
pub mod transfer;
pub mod users;

use crate::accounts::{AccountError, Accounts};
use crate::audit::AuditEvent;
use crate::clock::SharedClock;
use crate::crypto::password::{PasswordError, PasswordHasher};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("refused: {0}")]
    Refused(&'static str),
    /// The caller holds less than the change needs (`authority`): nothing was written.
    #[error("access denied: {0}")]
    Denied(&'static str),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(StoreError),
    /// A presented credential (an initial or a registration access token) is unknown,
    /// spent, expired, or not this client's: nothing was read or written.
    #[error("the presented token is not valid")]
    Unauthenticated,
    /// A bound on stored rows is reached (`registration.max_clients`): retry later.
    #[error("too many {0}; retry later")]
    Full(&'static str),
}

/// What a `Conflict` says, kept next to the field it is about so callers (the admin API)
/// can name the field without parsing the message.
pub(crate) const USERNAME_TAKEN: &str = "a user with this username";
pub(crate) const CLIENT_ID_TAKEN: &str = "a client with this client_id";

impl ManageError {
    /// The input field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => Some(*field),
            Self::Conflict(what) if *what == USERNAME_TAKEN => Some("username"),
            Self::Conflict(what) if *what == CLIENT_ID_TAKEN => Some("client_id"),
            Self::Password(crate::crypto::password::PasswordError::TooLong) => Some("password"),
            Self::Conflict(_)
            | Self::NotFound(_)
            | Self::Refused(_)
            | Self::Denied(_)
            | Self::Password(_)
            | Self::Store(_)
            | Self::Unauthenticated
            | Self::Full(_) => None,
        }
    }
}

impl From<AccountError> for ManageError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Password(e) => Self::Password(e),
            AccountError::Store(e) => Self::Store(e),
        }
    }
}

impl From<StoreError> for ManageError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl crate::store::audit::RecordedError for ManageError {
    fn store_cause(self) -> Result<StoreError, Self> {
        match self {
            Self::Store(err) => Ok(err),
            other @ (Self::Invalid { .. }
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::Refused(_)
            | Self::Denied(_)
            | Self::Password(_)
            | Self::Unauthenticated
            | Self::Full(_)) => Err(other),
        }
    }
}

/// What a caller is told when it holds less than a change needs.
pub(crate) const HOLDS_MORE: &str = "the target holds rights the caller does not";
pub(crate) const CONFERS_MORE: &str = "the change would confer rights the caller does not hold";

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> ManageError {
    ManageError::Invalid {
        field,
        message: message.into(),
    }
}

/// Who is acting, for the audit log: typed, so no client or user can name itself `cli`
/// or `system` (see `audit::AuditActor`).
pub use crate::audit::AuditActor as Actor;

#[derive(Debug, Clone)]
pub struct Service {
    pub store: Store,
    pub passwords: PasswordHasher,
    pub clock: SharedClock,
    /// What every password an operator sets must meet (`password.min_length`).
    pub policy: crate::accounts::new_password::Policy,
}

impl Service {
    pub fn new(
        store: Store,
        passwords: PasswordHasher,
        clock: SharedClock,
        policy: crate::accounts::new_password::Policy,
    ) -> Self {
        Self {
            store,
            passwords,
            clock,
            policy,
        }
    }

    /// Password checks over the same store, pool and clock.
    pub fn accounts(&self) -> Accounts {
        Accounts::new(
            self.store.clone(),
            self.passwords.clone(),
            std::sync::Arc::clone(&self.clock),
        )
    }

    pub(crate) async fn audit(&self, actor: &Actor, event: AuditEvent) -> Result<(), ManageError> {
        crate::audit::record(&self.store, self.clock.now(), event.by(actor.clone())).await?;
        Ok(())
    }

    /// Records a refused change (`admin.denied`) and gives the refusal back. The change
    /// itself was rolled back or never begun; this row is written on its own.
    pub(crate) async fn denied<T>(
        &self,
        actor: &Actor,
        attempted: &'static str,
        subject: Option<&str>,
        err: ManageError,
    ) -> Result<T, ManageError> {
        if let ManageError::Denied(why) = &err {
            let details = serde_json::json!({ "attempted": attempted, "reason": why });
            self.record_refusal(actor, subject, details).await?;
        }
        Err(err)
    }

    /// Records that `actor` was refused something (`admin.denied`): by the rule against
    /// escalation, or by a route's permission (`crate::admin::guard`).
    pub async fn record_refusal(
        &self,
        actor: &Actor,
        subject: Option<&str>,
        details: serde_json::Value,
    ) -> Result<(), ManageError> {
        let mut event = AuditEvent::new("admin.denied").details(details);
        if let Some(subject) = subject {
            event = event.subject(subject.to_owned());
        }
        self.audit(actor, event).await
    }
}

/// Whose roles `Service::current_roles` reads: a user by id, or a client by `client_id`.
#[derive(Debug, Clone, Copy)]
pub enum RoleHolder<'a> {
    User(&'a str),
    Client(&'a str),
}

impl Service {
    /// The roles an enabled user or client holds now, read from the database (no cache, so
    /// a removed role or a disabled account counts at once); `None` when it is gone or
    /// disabled.
    pub async fn current_roles(
        &self,
        holder: RoleHolder<'_>,
    ) -> Result<Option<Vec<String>>, ManageError> {
        let roles = match holder {
            RoleHolder::User(id) => {
                let id = id.to_owned();
                self.store
                    .run(move |conn| crate::store::models::users::find_by_id(conn, &id))
                    .await?
                    .filter(|u| !u.row.disabled)
                    .map(|u| u.roles)
            }
            RoleHolder::Client(client_id) => {
                let client_id = client_id.to_owned();
                self.store
                    .run(move |conn| crate::store::models::clients::find(conn, &client_id))
                    .await?
                    .filter(|c| !c.row.disabled)
                    .map(|c| c.roles)
            }
        };
        Ok(roles)
    }
}

impl Service {
    /// What an enabled user or client holds now (see `current_roles`), with the scopes of
    /// `via`, the client the caller's token was issued to: those are the scopes it could
    /// be granted. `None` when the holder is gone or disabled.
    pub async fn current_holding(
        &self,
        holder: RoleHolder<'_>,
        via: &str,
    ) -> Result<Option<authority::Holding>, ManageError> {
        let Some(roles) = self.current_roles(holder).await? else {
            return Ok(None);
        };
        let via = via.to_owned();
        let scopes = match self
            .store
            .run(move |conn| crate::store::models::clients::find(conn, &via))
            .await?
        {
            Some(client) => clients::json_list(&client.row.scopes)?,
            None => Vec::new(),
        };
        Ok(Some(authority::Holding { roles, scopes }))
    }
}

/// What a caller may tell its own client about a storage failure. The cause is logged
/// here and never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// The database cannot be reached now: retry.
    Unavailable,
    NotFound,
    Conflict,
    /// Anything else: our fault, answered without detail.
    Internal,
}

impl StoreFailure {
    pub fn of(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::Unavailable
            }
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict => Self::Conflict,
            other @ (StoreError::Query(_) | StoreError::Corrupt(_)) => {
                tracing::error!(error = %other, "storage error in a management operation");
                Self::Internal
            }
        }
    }
}

/// Role names: lower-case words so that they read the same in tokens and config.
pub fn validate_role(role: &str) -> Result<(), ManageError> {
    let ok = !role.is_empty()
        && role.len() <= 64
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-:.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "role",
            format!("`{role}` is not a role name (a-z, 0-9, _ - : . up to 64)"),
        ))
    }
}

fn dedup_sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}
