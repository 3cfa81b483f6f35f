//! Operations on users and clients, shared by the CLI and the admin API so that neither
//! can do what the other cannot, and both keep the same rules and audit trail.

pub mod audit;
pub mod clients;
pub mod keys;
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
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(StoreError),
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
            | Self::Password(_)
            | Self::Store(_) => None,
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
}

impl Service {
    pub fn new(store: Store, passwords: PasswordHasher, clock: SharedClock) -> Self {
        Self {
            store,
            passwords,
            clock,
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
