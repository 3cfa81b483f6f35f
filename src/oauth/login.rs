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
use crate::store::browser::{GiveBack, ThrottlePlace};

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

/// Who is trying: what the attempt is counted under follows from it.
pub enum Source<'a> {
    /// The login form, with the device cookie the browser sent, if any.
    Browser { device_cookie: Option<&'a str> },
    /// The password grant: no cookie, but a client.
    Client,
}

/// The keys an attempt counts under. A browser that presents a valid device cookie for
/// this username is counted under that cookie alone (OWASP device cookies): guesses from
/// elsewhere that lock the username or an address do not stop it, and its own failures
/// lock the cookie, after which it is an untrusted source like any other. Untrusted
/// sources count per username and per address; the password grant per client as well.
fn keys(ctx: &Ctx<'_>, normalised: &str, source: &Source<'_>, client_id: &str) -> Vec<Key> {
    if let Source::Browser {
        device_cookie: Some(value),
    } = source
        && let Some(nonce) = ctx.device_keys.verify(value, normalised)
    {
        return vec![Key {
            name: format!("device:{nonce}"),
            policy: ctx.config.login.user,
        }];
    }
    untrusted_keys(ctx, normalised, source, client_id)
}

/// Per username and per address; the password grant per client as well.
fn untrusted_keys(
    ctx: &Ctx<'_>,
    normalised: &str,
    source: &Source<'_>,
    client_id: &str,
) -> Vec<Key> {
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
    if matches!(source, Source::Client) {
        // One client guessing many usernames shares the looser per-address policy.
        keys.push(Key {
            name: format!("client:{client_id}"),
            policy: ctx.config.login.ip,
        });
    }
    keys
}

/// The attempt counts itself on every key before the password is looked at, in one
/// transaction that sees every place taken before it: a parallel burst is admitted one by
/// one and stops where the policy says, not after all of it read the same old counts.
/// `Err((secs, key))`: refused, no place taken; `key` is the key that refused (the one
/// with the longest wait), which the refusal is counted under in the audit log.
async fn reserve(
    ctx: &Ctx<'_>,
    keys: &[Key],
) -> Result<Result<Vec<ThrottlePlace>, (u64, String)>, LoginFailure> {
    let windows: Vec<(String, i64)> = keys
        .iter()
        .map(|k| (k.name.clone(), ctx.now - k.policy.window_secs))
        .collect();
    let policies: Vec<(String, ThrottlePolicy)> =
        keys.iter().map(|k| (k.name.clone(), k.policy)).collect();
    let now = ctx.now;
    ctx.store
        .reserve_login_attempt(windows, now, move |seen| {
            let mut refusal: Option<(u64, &String)> = None;
            for ((name, policy), seen) in policies.iter().zip(seen) {
                let (count, last) = seen.map_or((0, None), |(n, last)| (n, Some(last)));
                // The longest wait wins (`Decision::and`); on a tie the first key keeps it.
                if let Decision::RetryAfter(secs) = policy.decide(count, last, now)
                    && refusal.is_none_or(|(longest, _)| secs > longest)
                {
                    refusal = Some((secs, name));
                }
            }
            refusal.map(|(secs, name)| (secs, audit_key_name(name)))
        })
        .await
        .map_err(|e| LoginFailure::Unavailable(store_error(e)))
}

/// The name a throttling key is counted under in the audit log. A device key carries the
/// nonce of a device cookie, which stays out of logs: it is shown by a digest. (An attempt
/// refused on its device key is counted again as untrusted, so this is a safety net.)
fn audit_key_name(name: &str) -> String {
    match name.strip_prefix("device:") {
        Some(nonce) => {
            let digest = crate::crypto::tokens::digest(nonce);
            format!(
                "device:{}",
                crate::encoding::hex(digest.get(..8).unwrap_or_default())
            )
        }
        None => name.to_owned(),
    }
}

async fn audit(ctx: &Ctx<'_>, event: AuditEvent) -> Result<(), LoginFailure> {
    audit::record(ctx.store, ctx.now, event)
        .await
        .map_err(|e| LoginFailure::Unavailable(store_error(e)))
}

/// `via` names the path for the audit log (`password_grant`, `login_form`). Each check is
/// counted in `portcullis_logins_total` by its result.
pub async fn check_password(
    ctx: &Ctx<'_>,
    raw_username: &str,
    password: Zeroizing<String>,
    client_id: &str,
    via: &'static str,
    source: Source<'_>,
) -> Result<Profile, LoginFailure> {
    // Whatever returns early through `?` is the database failing.
    let mut result = "error";
    let checked = check_password_counted(
        ctx,
        raw_username,
        password,
        client_id,
        via,
        source,
        &mut result,
    )
    .await;
    ctx.metrics.login(result);
    checked
}

async fn check_password_counted(
    ctx: &Ctx<'_>,
    raw_username: &str,
    password: Zeroizing<String>,
    client_id: &str,
    via: &'static str,
    source: Source<'_>,
    result: &mut &'static str,
) -> Result<Profile, LoginFailure> {
    // An unnormalisable name cannot exist; it is still throttled per IP below.
    let normalised = username::normalise(raw_username).unwrap_or_else(|_| "-".to_owned());
    let keys = keys(ctx, &normalised, &source, client_id);
    let details = |outcome: &str| {
        serde_json::json!({
            "username": normalised,
            "client_id": client_id,
            "via": via,
            "ip": ctx.client_ip.map(|ip| ip.to_string()),
            "outcome": outcome,
        })
    };

    // A device cookie that is itself throttled or locked is no longer trusted: the attempt
    // is then counted as any other source's (OWASP: a locked-out device cookie is treated
    // as untrusted), so a stolen cookie buys no more guesses than none.
    let mut keys = keys;
    let mut reserved = reserve(ctx, &keys).await?;
    if reserved.is_err() && keys.iter().any(|k| k.name.starts_with("device:")) {
        keys = untrusted_keys(ctx, &normalised, &source, client_id);
        reserved = reserve(ctx, &keys).await?;
    }
    let places = match reserved {
        Ok(places) => places,
        Err((secs, key)) => {
            // Refused before any password check: counted into one row per key and window
            // (`audit.throttled_window_secs`) that becomes one `login.throttled` event with
            // its count, so a flood does not write a row per attempt.
            tracing::debug!(
                target: "audit",
                key = %key,
                via,
                retry_after_secs = secs,
                "login attempt throttled"
            );
            audit::count_throttled(
                ctx.store,
                key,
                ctx.now,
                ctx.config.audit.throttled_window_secs,
            )
            .await
            .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
            *result = "throttled";
            return Err(LoginFailure::Rejected);
        }
    };
    let user_counter = user_key(&normalised);

    let verified = match ctx.accounts.authenticate(raw_username, password).await {
        Ok(found) => found,
        Err(err) => {
            // No password was checked: the places go back, so a busy server does not lock
            // its users out. Best effort: the answer is already an error.
            let back = places.iter().map(|p| (p.clone(), GiveBack::Own)).collect();
            if let Err(e) = ctx.store.give_back_login_places(back).await {
                tracing::warn!(error = %e, "login throttle places not given back");
            }
            return Err(match err {
                AccountError::Password(_) => {
                    *result = "overloaded";
                    ctx.metrics.password_queue_rejections.inc();
                    LoginFailure::Unavailable(OAuthError::temporarily_unavailable(1))
                }
                AccountError::Store(e) => LoginFailure::Unavailable(store_error(e)),
            });
        }
    };

    match verified {
        Some(user) => {
            // A success clears the username's failures up to its own place (those counted
            // after it began stay) and gives its place back on the address, whose count it
            // does not clear: otherwise one valid account would let an attacker reset the
            // counter of the address it guesses from.
            let back = places
                .iter()
                .map(|p| {
                    // A device cookie's own failures are cleared as the username's are.
                    let what = if p.key == user_counter || p.key.starts_with("device:") {
                        GiveBack::Clear
                    } else {
                        GiveBack::Own
                    };
                    (p.clone(), what)
                })
                .collect();
            let event = AuditEvent::new("login.success")
                .by(AuditActor::client(client_id))
                .subject(user.id.clone())
                .details(details("success"));
            ctx.store
                .login_succeeded(back, ctx.now, event)
                .await
                .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
            *result = "success";
            Ok(user)
        }
        None => {
            *result = "failure";
            // The failure was counted when the place was taken.
            let locked = keys
                .iter()
                .zip(&places)
                .any(|(key, place)| key.policy.locks_at(place.failures));
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

/// A second factor's check (a TOTP or recovery code after the password), counted on the
/// same keys as a password attempt by the same source: a wrong code is a failure on the
/// username's counter (or the device cookie's) and the address's, so guesses at codes
/// lock as guesses at passwords do, and throttling refuses before `check` runs. `factor`
/// names it in the audit log (`factor.used` / `factor.failure`). `Ok(true)`: accepted;
/// `Ok(false)`: wrong, or refused by the throttle.
pub async fn check_second_factor<Fut>(
    ctx: &Ctx<'_>,
    username: &str,
    user_id: &str,
    source: Source<'_>,
    factor: &'static str,
    check: Fut,
) -> Result<bool, LoginFailure>
where
    Fut: std::future::Future<Output = Result<bool, OAuthError>>,
{
    let mut keys = keys(ctx, username, &source, "-");
    let mut reserved = reserve(ctx, &keys).await?;
    if reserved.is_err() && keys.iter().any(|k| k.name.starts_with("device:")) {
        keys = untrusted_keys(ctx, username, &source, "-");
        reserved = reserve(ctx, &keys).await?;
    }
    let details = |outcome: &str| {
        serde_json::json!({
            "factor": factor,
            "ip": ctx.client_ip.map(|ip| ip.to_string()),
            "outcome": outcome,
        })
    };
    let places = match reserved {
        Ok(places) => places,
        Err((_, key)) => {
            crate::oauth::mfa::count(ctx, factor, "throttled");
            audit::count_throttled(
                ctx.store,
                key,
                ctx.now,
                ctx.config.audit.throttled_window_secs,
            )
            .await
            .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
            return Ok(false);
        }
    };
    let accepted = match check.await {
        Ok(accepted) => accepted,
        Err(err) => {
            let back = places.iter().map(|p| (p.clone(), GiveBack::Own)).collect();
            if let Err(e) = ctx.store.give_back_login_places(back).await {
                tracing::warn!(error = %e, "second-factor throttle places not given back");
            }
            return Err(LoginFailure::Unavailable(err));
        }
    };
    let user_counter = user_key(username);
    if accepted {
        crate::oauth::mfa::count(ctx, factor, "success");
        let back = places
            .iter()
            .map(|p| {
                let what = if p.key == user_counter || p.key.starts_with("device:") {
                    GiveBack::Clear
                } else {
                    GiveBack::Own
                };
                (p.clone(), what)
            })
            .collect();
        let event = AuditEvent::new("factor.used")
            .by(AuditActor::user(user_id))
            .subject(user_id.to_owned())
            .details(details("success"));
        ctx.store
            .login_succeeded(back, ctx.now, event)
            .await
            .map_err(|e| LoginFailure::Unavailable(store_error(e)))?;
        return Ok(true);
    }
    crate::oauth::mfa::count(ctx, factor, "failure");
    let locked = keys
        .iter()
        .zip(&places)
        .any(|(key, place)| key.policy.locks_at(place.failures));
    audit(
        ctx,
        AuditEvent::new("factor.failure")
            .by(AuditActor::user(user_id))
            .subject(user_id.to_owned())
            .details(details("failure")),
    )
    .await?;
    if locked {
        audit(
            ctx,
            AuditEvent::new("login.locked")
                .by(AuditActor::user(user_id))
                .subject(user_id.to_owned())
                .details(details("locked")),
        )
        .await?;
    }
    Ok(false)
}
