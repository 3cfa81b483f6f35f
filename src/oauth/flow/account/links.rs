//! What the self-service flows (issue 22: `recovery`, `verification`) share: the
//! single-use links they mail, the mails themselves as plain data, addresses as they are
//! compared, and the counters that bound how many mails a request can cause.
//!
//! **Links.** A link carries a random 256-bit token (`pcl_…`); the database keeps only its
//! SHA-256 digest (`store::self_service`), with its purpose, its expiry and, once used, when.
//! Redeeming spends it by one guarded `UPDATE` in the transaction that makes the change it
//! allows, so it works once, and of two redemptions racing one wins. The URL is absolute,
//! below the issuer (which may have a path), since a mail has no page to be relative to.
//!
//! **Mails.** Protocol code does not render or send: it answers `OutgoingMail` values (the
//! recipient, the template's name and its arguments) and src/http hands them to the mail
//! templates and `Store::enqueue_mail`. The language is the one of the request that caused
//! the mail.

use crate::crypto::tokens::Secret;
use crate::oauth::context::Ctx;
use crate::store::self_service::{NewAccountToken, TokenPurpose};

/// Prefix of account link tokens, for secret scanners.
pub const LINK_PREFIX: &str = "pcl_";

/// A verification link (an address, a sign-up) works this long.
pub const VERIFY_LIFETIME: i64 = 24 * 3600;
/// A password-reset link works this long.
pub const RESET_LIFETIME: i64 = 30 * 60;

/// Routes the links lead to, relative to the issuer.
pub const RESET_ROUTE: &str = "/reset-password";
pub const VERIFY_ROUTE: &str = "/verify-email";
pub const FORGOT_ROUTE: &str = "/forgot-password";
pub const SIGNUP_ROUTE: &str = "/signup";

/// The longest address we take (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// A mail to send: which template (`templates/mail/<name>.txt|.html`, subject
/// `mail-<name>-subject`), to whom, with what arguments.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub template: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for OutgoingMail {
    // The arguments hold a live link: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

impl OutgoingMail {
    pub fn new(to: &str, template: &'static str) -> Self {
        Self {
            to: to.to_owned(),
            template,
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    /// The value of argument `name` (tests and the renderer read them by name).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A new link token: the secret for the mail and the row to store (its digest).
pub struct Minted {
    pub secret: Secret,
    pub row: NewAccountToken,
}

/// Mints a token of `purpose` for `user_id` (none for a sign-up), proving `email` where it
/// proves an address, alive from `ctx.now` for the purpose's lifetime.
pub fn mint(
    ctx: &Ctx<'_>,
    purpose: TokenPurpose,
    user_id: Option<&str>,
    email: Option<&str>,
) -> Minted {
    let secret = Secret::generate(LINK_PREFIX);
    let lifetime = match purpose {
        TokenPurpose::ResetPassword => RESET_LIFETIME,
        TokenPurpose::VerifyEmail | TokenPurpose::SignUp => VERIFY_LIFETIME,
    };
    let row = NewAccountToken {
        digest: secret.digest().to_vec(),
        purpose,
        user_id: user_id.map(str::to_owned),
        email: email.map(str::to_owned),
        username: None,
        password_hash: None,
        created_at: ctx.now,
        expires_at: ctx.now + lifetime,
    };
    Minted { secret, row }
}

/// The absolute URL of `route` below the issuer, carrying `token`.
pub fn link(ctx: &Ctx<'_>, route: &str, token: &Secret) -> String {
    format!(
        "{}{route}?token={}",
        ctx.config.issuer.as_str(),
        token.expose()
    )
}

/// The absolute URL of a page below the issuer (no token).
pub fn page(ctx: &Ctx<'_>, route: &str) -> String {
    format!("{}{route}", ctx.config.issuer.as_str())
}

/// The digest of a token as presented in a link or form; `None` for anything that is
/// not shaped like one of ours (so a stray value costs no query).
pub fn presented_digest(token: Option<&str>) -> Option<Vec<u8>> {
    let token = token?.trim();
    let body = token.strip_prefix(LINK_PREFIX)?;
    let shaped = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| Secret::from_presented(token).digest().to_vec())
}

/// Why an address is refused (shown after "The email address").
pub const BAD_EMAIL: &str = "is not a valid email address.";

/// An address as stored and compared: trimmed, lower-cased (mail systems treat the local
/// part case-insensitively in practice, and two spellings of one mailbox must not make two
/// accounts), one `@`, a dotted domain, no spaces or control characters, at most
/// `MAX_EMAIL` bytes.
pub fn parse_email(written: &str) -> Result<String, &'static str> {
    let email = written.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else {
        return Err(BAD_EMAIL);
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"@".contains(c));
    if email.len() > MAX_EMAIL || !domain_ok || !local_ok {
        return Err(BAD_EMAIL);
    }
    Ok(email)
}

/// The domain of a parsed address.
pub fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// Mails one account may cause per window (reset links; verification links for a new
/// address): enough for a person who retries, too few to flood their mailbox.
pub const PER_ACCOUNT: u32 = 3;
/// Mails one address (network, as throttles count them) may cause per window.
pub const PER_ADDRESS: u32 = 10;

/// Counts one mail-causing request on the client's address and on each of `keys`
/// (`(key, limit)`), within the login throttle's window: false when one is spent, and
/// then nothing is sent. Shared with the login counters' table and janitor.
pub async fn within_limits(
    ctx: &Ctx<'_>,
    area: &str,
    keys: Vec<(String, u32)>,
) -> Result<bool, crate::store::StoreError> {
    let mut all = keys;
    if let Some(ip) = ctx.client_key {
        all.push((format!("{area}-ip:{ip}"), PER_ADDRESS));
    }
    if all.is_empty() {
        return Ok(true);
    }
    let within = ctx
        .store
        .count_self_service(all, ctx.config.login.user.window_secs, ctx.now)
        .await?;
    if !within {
        tracing::info!(area, "self-service mail not sent: over its limit");
    }
    Ok(within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_email("  Alice@Example.COM "),
            Ok("alice@example.com".into())
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "alice@example..com",
            "alice@.example.com",
            "a@b@example.com",
            "alice@exa mple.com",
            "<alice>@example.com",
        ] {
            assert_eq!(parse_email(bad), Err(BAD_EMAIL), "{bad}");
        }
        assert!(parse_email(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert_eq!(domain_of("alice@example.com"), "example.com");
    }

    #[test]
    fn only_our_tokens_are_looked_up() {
        let t = Secret::generate(LINK_PREFIX);
        assert_eq!(
            presented_digest(Some(t.expose())),
            Some(t.digest().to_vec())
        );
        assert_eq!(presented_digest(None), None);
        assert_eq!(presented_digest(Some("pcl_short")), None);
        assert_eq!(
            presented_digest(Some(&t.expose().replace("pcl_", "pcr_"))),
            None
        );
    }
}
