//! `email.*` from its raw shape to [`EmailConfig`]: every rule, each failure naming the key.

use std::str::FromStr;
use std::time::Duration;

use figment::Figment;

use super::raw::{EmailBackendKind, RawEmail, RawSmtp, SmtpTls};
use super::sources::{invalid, read_secret_file};
use super::{ConfigError, EmailBackend, EmailConfig, SmtpConfig, SmtpCredentials};
use crate::url_rules::is_loopback_host;

/// The `From` of the `log` backend when none is configured: nothing is sent anyway.
const DEV_FROM: &str = "Portcullis <portcullis@localhost>";

pub(super) fn validate_email(figment: &Figment, raw: RawEmail) -> Result<EmailConfig, ConfigError> {
    let from = match (&raw.from, raw.backend) {
        (Some(from), _) => {
            lettre::message::Mailbox::from_str(from.trim()).map_err(|_| {
                invalid(
                    figment,
                    "email.from",
                    format!(
                        "`{from}` is not a mailbox: write `Name <address@example.com>` or \
                         `address@example.com`"
                    ),
                )
            })?;
            from.trim().to_owned()
        }
        (None, EmailBackendKind::Smtp) => {
            return Err(invalid(
                figment,
                "email.from",
                "required when email.backend is `smtp` (the sender of every message, such as \
                 `Example ID <id@example.com>`)",
            ));
        }
        (None, EmailBackendKind::Log) => DEV_FROM.to_owned(),
    };
    if !(1..=3600).contains(&raw.poll_interval_secs) {
        return Err(invalid(
            figment,
            "email.poll_interval_secs",
            "must be 1 to 3600 seconds",
        ));
    }
    if !(1..=100).contains(&raw.max_attempts) {
        return Err(invalid(figment, "email.max_attempts", "must be 1 to 100"));
    }
    if !(60..=30 * 86_400).contains(&raw.give_up_after_secs) {
        return Err(invalid(
            figment,
            "email.give_up_after_secs",
            "must be 60 seconds to 30 days (2592000)",
        ));
    }
    if !(1..=3650).contains(&raw.keep_days) {
        return Err(invalid(
            figment,
            "email.keep_days",
            "must be 1 to 3650 days",
        ));
    }
    let backend = match raw.backend {
        EmailBackendKind::Log => EmailBackend::Log,
        EmailBackendKind::Smtp => EmailBackend::Smtp(validate_smtp(figment, raw.smtp)?),
    };
    Ok(EmailConfig {
        backend,
        from,
        poll_interval: Duration::from_secs(raw.poll_interval_secs),
        max_attempts: raw.max_attempts,
        give_up_after: raw.give_up_after_secs,
        keep_secs: raw.keep_days * 86_400,
    })
}

fn validate_smtp(figment: &Figment, raw: RawSmtp) -> Result<SmtpConfig, ConfigError> {
    let host = raw.host.as_deref().map(str::trim).unwrap_or_default();
    if host.is_empty() {
        return Err(invalid(
            figment,
            "email.smtp.host",
            "required when email.backend is `smtp` (the mail server's name, such as \
             `smtp.example.com`)",
        ));
    }
    let parsed = url::Host::parse(host).map_err(|_| {
        invalid(
            figment,
            "email.smtp.host",
            format!("`{host}` is not a host name or IP address (no scheme, port or path)"),
        )
    })?;
    let port = match raw.port {
        Some(0) => return Err(invalid(figment, "email.smtp.port", "must be 1 to 65535")),
        Some(port) => port,
        None => match raw.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        },
    };
    let password = match (&raw.password, &raw.password_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                "email.smtp.password_file",
                "set either email.smtp.password or email.smtp.password_file, not both",
            ));
        }
        (Some(password), None) => Some(password.clone()),
        (None, Some(path)) => Some(
            read_secret_file(path).map_err(|r| invalid(figment, "email.smtp.password_file", r))?,
        ),
        (None, None) => None,
    };
    let credentials = match (raw.username, password) {
        (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => {
            Some(SmtpCredentials {
                username,
                password: password.into(),
            })
        }
        (None, None) => None,
        (Some(_), _) => {
            return Err(invalid(
                figment,
                "email.smtp.password",
                "email.smtp.username is set: set its password too (email.smtp.password or \
                 email.smtp.password_file)",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                figment,
                "email.smtp.username",
                "a password is set: set the username it belongs to",
            ));
        }
    };
    let loopback = is_loopback_host(&match &parsed {
        url::Host::Domain(name) => url::Host::Domain(name.as_str()),
        url::Host::Ipv4(ip) => url::Host::Ipv4(*ip),
        url::Host::Ipv6(ip) => url::Host::Ipv6(*ip),
    });
    if credentials.is_some() && raw.tls == SmtpTls::None && !loopback {
        return Err(invalid(
            figment,
            "email.smtp.tls",
            format!(
                "`none` would send the SMTP password in clear text to {host}: use `starttls` \
                 or `tls` (`none` with credentials is for a relay on loopback only)"
            ),
        ));
    }
    let extra_roots = match &raw.ca_file {
        None => None,
        Some(_) if raw.tls == SmtpTls::None => {
            return Err(invalid(
                figment,
                "email.smtp.ca_file",
                "certificates are only used with email.smtp.tls `starttls` or `tls`",
            ));
        }
        Some(path) => {
            let pem =
                read_secret_file(path).map_err(|r| invalid(figment, "email.smtp.ca_file", r))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(
                    figment,
                    "email.smtp.ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            Some((path.clone(), pem))
        }
    };
    if !(1..=300).contains(&raw.timeout_secs) {
        return Err(invalid(
            figment,
            "email.smtp.timeout_secs",
            "must be 1 to 300 seconds",
        ));
    }
    Ok(SmtpConfig {
        host: host.to_owned(),
        port,
        tls: raw.tls,
        credentials,
        extra_roots,
        timeout: Duration::from_secs(raw.timeout_secs),
    })
}
