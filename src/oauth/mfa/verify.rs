//! Checking a typed second factor (a TOTP code or a recovery code) for a user who is
//! signing in or stepping up: throttled with their password (`login::check_second_factor`),
//! each code taken once. Passkeys need no throttle: a signature cannot be guessed, and each
//! ceremony answers once (`passkeys`).

use super::{recovery, totp};
use crate::audit::AuditActor;
use crate::oauth::context::Ctx;
use crate::oauth::login::{self, LoginFailure, Source};

/// A code the user typed, and which kind they said it is.
#[derive(Debug, Clone, Copy)]
pub enum Code<'a> {
    Totp(&'a str),
    Recovery(&'a str),
}

/// Checks the code; true when accepted (and then spent).
pub async fn code(
    ctx: &Ctx<'_>,
    username: &str,
    user_id: &str,
    code: Code<'_>,
    device_cookie: Option<&str>,
) -> Result<bool, LoginFailure> {
    let source = Source::Browser { device_cookie };
    match code {
        Code::Totp(code) => {
            let check = async {
                Ok(
                    match totp::check(ctx, user_id, code, false, AuditActor::user(user_id)).await? {
                        totp::Checked::Accepted { .. } => true,
                        totp::Checked::Replayed => {
                            super::count(ctx, "totp", "replayed");
                            false
                        }
                        totp::Checked::Wrong | totp::Checked::Malformed => false,
                    },
                )
            };
            login::check_second_factor(ctx, username, user_id, source, "totp", check).await
        }
        Code::Recovery(code) => {
            let check = recovery::spend(ctx, user_id, code, AuditActor::user(user_id));
            login::check_second_factor(ctx, username, user_id, source, "recovery_code", check).await
        }
    }
}

/// Confirms a TOTP enrolment with its first code, under the same throttle. `Some(codes)`
/// when confirmed (the recovery codes of a first factor, or none), None when refused.
pub async fn confirm_totp(
    ctx: &Ctx<'_>,
    username: &str,
    user_id: &str,
    code: &str,
    device_cookie: Option<&str>,
) -> Result<Option<Vec<zeroize::Zeroizing<String>>>, LoginFailure> {
    let mut codes = None;
    let check = async {
        Ok(
            match totp::check(ctx, user_id, code, true, AuditActor::user(user_id)).await? {
                totp::Checked::Accepted { codes: c } => {
                    codes = Some(c);
                    true
                }
                totp::Checked::Replayed | totp::Checked::Wrong | totp::Checked::Malformed => false,
            },
        )
    };
    let accepted = login::check_second_factor(
        ctx,
        username,
        user_id,
        Source::Browser { device_cookie },
        "totp",
        check,
    )
    .await?;
    if accepted {
        super::count(ctx, "totp", "enrolled");
    }
    Ok(if accepted {
        codes.or(Some(Vec::new()))
    } else {
        None
    })
}
