//! Accounts: what both the protocol code (`crate::oauth`: login, the password grant, ID
//! tokens, userinfo) and the management service (`crate::manage`: the CLI and the admin
//! API) need to know about a person, kept below both so that neither imports the other.
//!
//! - `username`: the one normal form a name is compared in;
//! - `device`: a User-Agent summarised for the sessions lists;
//! - `new_password`: the rule a chosen password must meet (`common`: the bundled list of
//!   common and breached passwords it refuses);
//! - `Accounts::authenticate`: verify a username and password;
//! - `Profile`: the profile claims of a user, as tokens and `/userinfo` state them.

pub mod common;
pub mod device;
pub mod new_password;
pub mod username;

use zeroize::Zeroizing;

use crate::clock::SharedClock;
use crate::crypto::password::{PasswordError, PasswordHasher, Verdict};
use crate::store::models::users::{self as rows, UserRecord};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The hashing pool cannot take the work now.
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a user's tokens and `/userinfo` may say about them (OpenID Connect Core section
/// 5.1), and the roles their access tokens carry. Never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub roles: Vec<String>,
}

impl From<UserRecord> for Profile {
    fn from(r: UserRecord) -> Self {
        Self {
            id: r.row.id,
            username: r.row.username,
            email: r.row.email,
            email_verified: r.row.email_verified,
            name: r.row.name,
            roles: r.roles,
        }
    }
}

/// Cheap to clone: the store and the password pool are shared by all clones.
#[derive(Debug, Clone)]
pub struct Accounts {
    store: Store,
    passwords: PasswordHasher,
    clock: SharedClock,
}

impl Accounts {
    pub fn new(store: Store, passwords: PasswordHasher, clock: SharedClock) -> Self {
        Self {
            store,
            passwords,
            clock,
        }
    }

    /// Checks a username and password, answering the user's profile. Unknown users, wrong
    /// passwords and disabled accounts all answer `None` after the same argon2 work.
    pub async fn authenticate(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<Option<Profile>, AccountError> {
        Ok(self.verify(username, password).await?.map(Profile::from))
    }

    /// `authenticate`, answering the stored record (for `crate::manage`, which shows more
    /// of a user than their claims). A correct password whose hash is bcrypt (imported) or
    /// uses old parameters is re-hashed with argon2id now.
    pub async fn verify(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<Option<UserRecord>, AccountError> {
        let record = match username::normalise(username) {
            Ok(name) => {
                self.store
                    .run(move |conn| rows::find_by_username(conn, &name))
                    .await?
            }
            Err(_) => None,
        };
        let stored = record.as_ref().map(|r| r.row.password_hash.clone());
        let verdict = self.passwords.verify(password.clone(), stored).await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let rehash = match verdict {
            Verdict::Invalid => return Ok(None),
            Verdict::Valid { rehash } => rehash,
        };
        if record.row.disabled {
            return Ok(None);
        }
        if rehash {
            // Best effort: a failure here must not fail a correct login.
            match self.passwords.hash(password).await {
                Ok(new_hash) => {
                    let (id, old, now) = (
                        record.row.id.clone(),
                        record.row.password_hash.clone(),
                        self.clock.now(),
                    );
                    if let Err(err) = self
                        .store
                        .run(move |conn| {
                            rows::replace_password_hash(conn, &id, &old, &new_hash, now)
                        })
                        .await
                    {
                        tracing::warn!(error = %err, "could not upgrade a password hash");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not re-hash a password"),
            }
        }
        Ok(Some(record))
    }

    /// A new argon2id hash for a password the user chose (checked first with
    /// `new_password::check`), in the bounded pool.
    pub async fn hash_password(&self, password: Zeroizing<String>) -> Result<String, AccountError> {
        Ok(self.passwords.hash(password).await?)
    }

    /// The profile of an enabled user; `None` for an unknown or disabled one.
    pub async fn enabled_profile(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        let id = id.to_owned();
        let found = self
            .store
            .run(move |conn| rows::find_by_id(conn, &id))
            .await?;
        Ok(found.filter(|u| !u.row.disabled).map(Profile::from))
    }
}
