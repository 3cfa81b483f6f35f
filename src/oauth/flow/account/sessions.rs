//! `/account/sessions`: where the user is signed in. Each live browser session with the
//! device it signed in from (its User-Agent, summarised by `accounts::device`), the address
//! it was last used from (as the rate limiter sees it), when it started and when it was
//! last seen; the one this browser holds is marked. The user ends one session, or every
//! other one; ending a session is what logout does to it (its row goes, so its cookie
//! finds nothing), recorded as `session.ended` / `session.ended_others`. Refresh-token
//! families are not sessions: they are the connected apps (`apps`).

use super::Account;
use crate::accounts::device::{self, Device};
use crate::audit::{AuditActor, AuditEvent};
use crate::oauth::context::Ctx;
use crate::oauth::flow::BrowserError;

/// One session as the page lists it: never its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub sid: String,
    pub device: Device,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The session this browser holds.
    pub current: bool,
}

/// The user's live sessions, this browser's first, then the most recently seen.
pub async fn list(ctx: &Ctx<'_>, account: &Account) -> Result<Vec<Listed>, BrowserError> {
    let mut listed: Vec<Listed> = ctx
        .store
        .user_sessions(&account.session.user_id, ctx.now)
        .await?
        .into_iter()
        .map(|s| Listed {
            current: s.sid == account.session.sid,
            device: device::describe(s.user_agent.as_deref()),
            sid: s.sid,
            ip: s.ip,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
        })
        .collect();
    listed.sort_by_key(|s| !s.current);
    Ok(listed)
}

/// What became of a sign-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Another session ended.
    Other,
    /// This browser's own session ended: it is signed out.
    This,
    /// The user has no such session (already ended, or never theirs): nothing changed.
    NotFound,
}

/// POST /account/sessions/end: ends one of the user's sessions by its `sid`. Another
/// user's `sid` finds nothing.
pub async fn end(ctx: &Ctx<'_>, account: &Account, sid: &str) -> Result<Ended, BrowserError> {
    let user_id = account.session.user_id.clone();
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    let by_sid = account.session.sid.clone();
    let ended = ctx
        .store
        .end_user_session(&account.session.user_id, sid, ctx.now, move |ended| {
            AuditEvent::new("session.ended")
                .by(AuditActor::user(&user_id))
                .subject(user_id.clone())
                .details(serde_json::json!({
                    "sid": ended.sid,
                    "by_sid": by_sid,
                    "via": "account_sessions",
                    "ip": ip,
                }))
        })
        .await?;
    Ok(match (ended, sid == account.session.sid) {
        (false, _) => Ended::NotFound,
        (true, true) => Ended::This,
        (true, false) => Ended::Other,
    })
}

/// POST /account/sessions/end-others: ends every session of the user but this one;
/// returns how many ended.
pub async fn end_others(ctx: &Ctx<'_>, account: &Account) -> Result<usize, BrowserError> {
    let user_id = account.session.user_id.clone();
    let kept = account.session.sid.clone();
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    Ok(ctx
        .store
        .end_other_sessions(
            &account.session.user_id,
            &account.session.sid,
            ctx.now,
            move |count| {
                AuditEvent::new("session.ended_others")
                    .by(AuditActor::user(&user_id))
                    .subject(user_id.clone())
                    .details(serde_json::json!({
                        "kept_sid": kept,
                        "sessions_ended": count,
                        "via": "account_sessions",
                        "ip": ip,
                    }))
            },
        )
        .await?)
}
