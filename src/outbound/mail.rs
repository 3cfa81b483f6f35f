//! How a message leaves the server (issue 22): over SMTP to the operator's mail server, or,
//! for development, into the log. Only the outbox worker (`crate::mail`) calls this; the
//! rest of the server enqueues (`Store::enqueue_mail`) and never waits on a mail server.
//!
//! The SMTP server is the operator's (`email.smtp.*`), not a stranger's, so the SSRF
//! guard of this module's parent does not apply; its TLS is rustls on the same aws-lc-rs
//! provider, trusting the Mozilla roots plus `email.smtp.ca_file`. STARTTLS, when chosen,
//! is required (a server that does not offer it gets nothing, credentials least of all).
//!
//! Bodies carry single-use links (password reset, email verification). The `log` backend
//! is the one place such a link is ever written to the log, by design: it exists so a
//! developer can follow the link without a mail server. The SMTP path logs recipients,
//! subjects and errors, never bodies (docs/security.md, "Outbound email").

use std::str::FromStr;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{EmailBackend, EmailConfig, SmtpConfig, SmtpTls};
use crate::store::NewMail;

/// Why a message was not handed over. `permanent`: trying again cannot help (a malformed
/// address, a server that refused this message for good); otherwise it is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub permanent: bool,
    /// For the log and the outbox row: never the body.
    pub reason: String,
}

impl SendError {
    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            permanent: true,
            reason: reason.into(),
        }
    }
    fn transient(reason: impl Into<String>) -> Self {
        Self {
            permanent: false,
            reason: reason.into(),
        }
    }
}

/// Where messages go: built once at start from `email.*`.
pub struct Mailer {
    from: Mailbox,
    backend: Backend,
}

enum Backend {
    Smtp {
        // Boxed: the transport is large, the log variant nothing.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        timeout: Duration,
        server: String,
    },
    Log,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::Smtp { server, .. } => server.as_str(),
            Backend::Log => "log",
        };
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("backend", &backend)
            .finish()
    }
}

impl Mailer {
    /// The mailer `email.*` describes (already validated; a certificate file that does not
    /// parse is the one thing left to refuse here).
    pub fn new(config: &EmailConfig) -> Result<Self, String> {
        let from = Mailbox::from_str(&config.from)
            .map_err(|e| format!("email.from `{}`: {e}", config.from))?;
        let backend = match &config.backend {
            EmailBackend::Log => Backend::Log,
            EmailBackend::Smtp(smtp) => Backend::Smtp {
                transport: Box::new(smtp_transport(smtp)?),
                // The whole exchange; lettre's own timeout bounds each read and write.
                timeout: smtp.timeout.saturating_mul(2),
                server: format!("{}:{}", smtp.host, smtp.port),
            },
        };
        Ok(Self { from, backend })
    }

    /// The longest one `send` may take (the worker claims messages for longer).
    pub fn max_send_time(&self) -> Duration {
        match &self.backend {
            Backend::Smtp { timeout, .. } => *timeout,
            Backend::Log => Duration::from_secs(1),
        }
    }

    /// Hands `mail` to the mail server (or the log).
    pub async fn send(&self, mail: &NewMail) -> Result<(), SendError> {
        let message = self.message(mail)?;
        match &self.backend {
            Backend::Log => {
                // DEVELOPMENT ONLY (`email.backend = "log"`): the one place a message's
                // body, and the single-use link in it, is written to the log.
                tracing::info!(
                    to = %mail.to,
                    subject = %mail.subject,
                    text = %mail.text,
                    html = mail.html.as_deref().unwrap_or(""),
                    "email (log backend: not sent; the body is shown for development)"
                );
                Ok(())
            }
            Backend::Smtp {
                transport, timeout, ..
            } => match tokio::time::timeout(*timeout, transport.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(classify(&err)),
                Err(_) => Err(SendError::transient(format!(
                    "no answer from the mail server within {} s",
                    timeout.as_secs()
                ))),
            },
        }
    }

    fn message(&self, mail: &NewMail) -> Result<Message, SendError> {
        let to = Mailbox::from_str(&mail.to)
            .map_err(|e| SendError::permanent(format!("the recipient is not an address: {e}")))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone());
        let built = match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(mail.text.clone())),
        };
        built.map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))
    }
}

/// Codes by which a server refuses us rather than the message (authentication required or
/// failed, RFC 4954): the operator fixes the settings and the outbox is still there.
const REFUSES_US: [u16; 4] = [530, 534, 535, 538];

fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    let code = err.status().map(u16::from);
    let reason = format!("{err}");
    match code {
        Some(code) if err.is_permanent() && !REFUSES_US.contains(&code) => {
            SendError::permanent(reason)
        }
        Some(_) | None => SendError::transient(reason),
    }
}

fn smtp_transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls => Tls::Required(tls_parameters(smtp)?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters(smtp)?),
    };
    // `builder_dangerous` only means "no TLS chosen yet": it is chosen on the next line.
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(smtp.timeout));
    if let Some(credentials) = &smtp.credentials {
        builder = builder
            .credentials(Credentials::new(
                credentials.username.clone(),
                credentials.password.expose_secret().to_owned(),
            ))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(builder.build())
}

fn tls_parameters(smtp: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut params = TlsParameters::builder(smtp.host.clone());
    if let Some((path, pem)) = &smtp.extra_roots {
        let certificate = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("email.smtp.ca_file {}: {e}", path.display()))?;
        params = params.add_root_certificate(certificate);
    }
    params
        .build_rustls()
        .map_err(|e| format!("email.smtp TLS settings: {e}"))
}
