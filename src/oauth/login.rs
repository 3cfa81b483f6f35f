//! Checking a username and password, for the password grant and the login page alike:
//! brute-force throttling per username and per client IP (stored in the database, so
//! every replica and both paths share it), one generic failure for every reason, argon2
//! in the bounded pool, and an audit event for each outcome.

use zeroize::Zeroizing;

use crate::accounts::{AccountError, Profile, username};
use crate::audit::{self, AuditActor, AuditEvent};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::throttle::{Decision, ThrottlePolicy};

/// Why a password check did not succeed: the outcome the login form and the password
/// grant share (the browser flow turns it into its login page or a `BrowserError`, the
/// grant into `invalid_grant`). Callers show the same message for every variant but
/// `Unavailable`; the distinction is for the audit log and the HTTP status.
#[derive(Debug)]
pub enum LoginFailure {
    /// Unknown user, wrong password, disabled account, or throttled: indistinguishable.
    Rejected,
    /// The hashing pool or the database cannot take the work now: 503.
    Unavailable(OAuthError),
}

struct Key {
    name: String,
    policy: ThrottlePolicy,
}

fn user_key(normalised: &str) -> String {
    format!("user:{normalised}")
}

fn keys(ctx: &Ctx<'_>, normalised: &str) -> Vec<Key> {
    let mut keys = vec![Key {
        name: user_key(normalised),
        policy: ctx.config.login.user,
    }];
    if let Some(ip) = ctx.client_key {
        keys.push(Key {
            name: format!("ip:{ip}"),
            policy: ctx.config.login.ip,
        });
    }
    keys
}

async fn audit(ctx: &Ctx<'_>, event: AuditEvent) -> Result<(), LoginFailure> {
    audit::record(ctx.store, ctx.now, event)
        .await
        .map_err(|e| LoginFailure::Unavailable(store_error(e)))
}

/// `via` names the path for the audit log (`password_grant`, `login_form`).
pub async fn check_password(
    ctx: &Ctx<'_>,
    raw_username: &str,
    password: Zeroizing<String>,
    client_id: &str,
    via: &'static str,
) -> Result<Profile, LoginFailure> {
    // An unnormalisable name cannot exist; it is still throttled per IP below.
    let normalised = username::normalise(raw_username).unwrap_or_else(|_| "-".to_owned());
    let keys = keys(ctx, &normalised);
    let details = |outcome: &str| {
        serde_json::json!({
            "username": normalised,
            "client_id": client_id,
            "via": via,
            "ip": ctx.client_ip.map(|ip| ip.to_string()),
            "outcome": outcome,
        })
    };

    let names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
    let counters = ctx
        .store
        .throttle_counters(names)
        .await
        .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
    let counter = |name: &str| counters.iter().find(|c| c.key == name);
    let mut decision = Decision::Allow;
    for key in &keys {
        let found = counter(&key.name).and_then(|c| c.in_window(ctx.now - key.policy.window_secs));
        let (count, last) = found.map_or((0, None), |(n, last)| (n, Some(last)));
        decision = decision.and(key.policy.decide(count, last, ctx.now));
    }
    // Only a stored counter needs clearing after a success: most logins skip that write.
    let user_counter = user_key(&normalised);
    let user_counter_stored = counter(&user_counter).is_some();
    if let Decision::RetryAfter(secs) = decision {
        let mut d = details("throttled");
        if let Some(obj) = d.as_object_mut() {
            obj.insert("retry_after_secs".into(), secs.into());
        }
        audit(
            ctx,
            AuditEvent::new("login.throttled")
                .by(AuditActor::client(client_id))
                .details(d),
        )
        .await?;
        return Err(LoginFailure::Rejected);
    }

    let verified = match ctx.accounts.authenticate(raw_username, password).await {
        Ok(found) => found,
        Err(AccountError::Password(_)) => {
            ctx.metrics.password_queue_rejections.inc();
            return Err(LoginFailure::Unavailable(
                OAuthError::temporarily_unavailable(1),
            ));
        }
        Err(AccountError::Store(e)) => return Err(LoginFailure::Unavailable(store_error(e))),
    };

    match verified {
        Some(user) => {
            // A failure stored after the read above (a concurrent wrong password) stays:
            // it happened after this attempt began.
            if user_counter_stored {
                ctx.store
                    .clear_throttle(user_counter)
                    .await
                    .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
            }
            audit(
                ctx,
                AuditEvent::new("login.success")
                    .by(AuditActor::client(client_id))
                    .subject(user.id.clone())
                    .details(details("success")),
            )
            .await?;
            Ok(user)
        }
        None => {
            let mut locked = false;
            for key in &keys {
                let (name, now, after) =
                    (key.name.clone(), ctx.now, ctx.now - key.policy.window_secs);
                let count = ctx
                    .store
                    .record_login_failure(name, now, after)
                    .await
                    .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
                locked |= key.policy.locks_at(count);
            }
            audit(
                ctx,
                AuditEvent::new("login.failure")
                    .by(AuditActor::client(client_id))
                    .details(details("failure")),
            )
            .await?;
            if locked {
                audit(
                    ctx,
                    AuditEvent::new("login.locked")
                        .by(AuditActor::client(client_id))
                        .details(details("locked")),
                )
                .await?;
            }
            Err(LoginFailure::Rejected)
        }
    }
}
