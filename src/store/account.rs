//! Storage for what a user changes on their own account pages (`oauth::flow::account`):
//! their password, which ends what else holds their account. (Their factors are
//! `store::factors`.) Plain types in and out.

use super::audit::{AuditEvent, Change};
use super::models::grants::sign_out_elsewhere;
use super::models::users;
use super::{Store, StoreError};

/// What a password change ended besides the password, for its audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndedElsewhere {
    /// Ids of the grants revoked: every refresh-token family of the user.
    pub grants: Vec<String>,
    /// The user's other browser sessions.
    pub sessions: usize,
    /// Codes not yet redeemed.
    pub codes: usize,
    /// Pending requests bound to the other sessions.
    pub requests: usize,
}

impl Store {
    /// The user's new password hash, in one transaction with the end of everything the
    /// old password may have opened elsewhere (`models::grants::sign_out_elsewhere`: every
    /// refresh-token family, every other session) and the audit event made from what
    /// ended. The session `keep_sid`, which made the change, stays. False when the user is
    /// gone.
    pub async fn change_password<F>(
        &self,
        user_id: &str,
        keep_sid: &str,
        password_hash: String,
        now: i64,
        event: F,
    ) -> Result<bool, StoreError>
    where
        F: FnOnce(&EndedElsewhere) -> AuditEvent + Send + 'static,
    {
        let (user_id, keep_sid) = (user_id.to_owned(), keep_sid.to_owned());
        let done = self
            .run_audited(Change::Revokes, now, None, move |conn| {
                let Some(mut record) = users::find_by_id(conn, &user_id)? else {
                    return Ok(None);
                };
                record.row.password_hash = password_hash;
                record.row.updated_at = now;
                users::update(conn, &record.row)?;
                let ended = sign_out_elsewhere(conn, &user_id, &keep_sid, now, "password changed")?;
                let ended = EndedElsewhere {
                    grants: ended.grants,
                    sessions: ended.sessions,
                    codes: ended.codes,
                    requests: ended.requests,
                };
                let event = event(&ended);
                Ok(Some(((), event)))
            })
            .await?;
        Ok(done.is_some())
    }
}
