//! An SMTP server inside the test process that records what it receives (issue 22). It
//! speaks just enough ESMTP for lettre and any ordinary client: EHLO/HELO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT, AUTH PLAIN (when started with credentials) and STARTTLS (when
//! started with TLS, over a certificate for `localhost` made by `rcgen` for the test).
//!
//! ```ignore
//! let sink = SmtpSink::start().await;                     // plain TCP on 127.0.0.1:PORT
//! let app = spawn_app_with(Arc::new(TestDb::new()), |c| sink.configure(c)).await;
//! app.state.store.enqueue_mail(mail, app.clock.now()).await.unwrap();  // or a page that mails
//! let mail = sink.next_mail().await;                      // waits up to 30 s, then panics
//! assert_eq!(mail.to, "alice@example.com");
//! assert!(mail.text.contains("https://..."));
//! let link = mail.link_starting_with(&app.url("/reset-password"));  // first such URL
//! ```
//!
//! - `SmtpSink::start()`: plain TCP. `SmtpSink::start_with(SinkOptions { .. })`: require
//!   AUTH PLAIN with `credentials`, offer STARTTLS (`starttls: true`; `configure` then
//!   points the server at `localhost` with `email.smtp.tls = starttls` and trusts the
//!   sink's certificate through `email.smtp.ca_file`), refuse every recipient with a
//!   permanent 550 (`refuse_recipients: true`), or listen on a given port (`port`: a
//!   "server down, then up" test takes a free port with `SmtpSink::free_port()`, starts
//!   the app against it, and only then the sink).
//! - `sink.configure(&mut config)`: `email.backend = smtp` at the sink, `email.from =
//!   "Portcullis <id@portcullis.test>"`, credentials if the sink wants them, a short poll
//!   interval so retries are quick.
//! - `sink.next_mail().await` / `sink.next_mail_within(duration).await`: the next message
//!   not yet taken by a `next_mail`, in arrival order. `sink.received()`: every message so
//!   far (taken or not). `sink.count()`.
//! - `ReceivedMail`: `from`, `to` (header addresses), `envelope_from`, `envelope_to`,
//!   `subject` (decoded), `text` and `html` (the decoded parts; `html` is `None` for a
//!   plain message), `auth_user` (who authenticated, if anyone), `raw` (the DATA as sent),
//!   `over_tls` (whether STARTTLS was in force), and `links()` / `link_starting_with()`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use portcullis::config::{Config, EmailBackend, SmtpConfig, SmtpCredentials, SmtpTls};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How the sink behaves. `Default`: plain TCP, no AUTH, accepts everything, any port.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Require AUTH PLAIN with this username and password before MAIL.
    pub credentials: Option<(String, String)>,
    /// Offer STARTTLS (and require it before MAIL).
    pub starttls: bool,
    /// Answer every RCPT with `550 5.1.1` (a permanent refusal).
    pub refuse_recipients: bool,
    /// Listen on this port of 127.0.0.1 (0 or `None`: any free port).
    pub port: Option<u16>,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    /// The `From` header's address (`id@portcullis.test`) and display name, if any.
    pub from: String,
    pub from_name: Option<String>,
    /// The `To` header's first address.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub auth_user: Option<String>,
    pub over_tls: bool,
    pub raw: String,
}

impl ReceivedMail {
    /// Every `http://` or `https://` URL in the text part, in order.
    pub fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        for word in self
            .text
            .split(|c: char| c.is_whitespace() || c == '<' || c == '>')
        {
            for scheme in ["https://", "http://"] {
                if let Some(at) = word.find(scheme) {
                    let url = word[at..].trim_end_matches(['.', ',', ')', '"', '\'']);
                    out.push(url.to_owned());
                    break;
                }
            }
        }
        out
    }

    /// The first link in the text part that starts with `prefix`; panics when there is none.
    pub fn link_starting_with(&self, prefix: &str) -> String {
        self.links()
            .into_iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link starting with {prefix} in:\n{}", self.text))
    }
}

struct Shared {
    options: SinkOptions,
    tls: Option<(tokio_rustls::TlsAcceptor, String)>,
    received: Mutex<Vec<ReceivedMail>>,
    taken: Mutex<usize>,
    arrived: Notify,
}

/// The running sink; stops when dropped.
pub struct SmtpSink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    /// The PEM file of the sink's certificate (STARTTLS only), for `email.smtp.ca_file`.
    ca_file: Option<tempfile::NamedTempFile>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_with(SinkOptions::default()).await
    }

    /// A port on 127.0.0.1 nothing listens on (for "the mail server is down" tests).
    pub fn free_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    pub async fn start_with(options: SinkOptions) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", options.port.unwrap_or(0)))
            .await
            .expect("the SMTP sink binds");
        let addr = listener.local_addr().unwrap();
        let (tls, ca_file) = if options.starttls {
            let (acceptor, pem) = test_certificate();
            let mut file = tempfile::NamedTempFile::new().unwrap();
            std::io::Write::write_all(&mut file, pem.as_bytes()).unwrap();
            (Some((acceptor, pem)), Some(file))
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared {
            options,
            tls,
            received: Mutex::new(Vec::new()),
            taken: Mutex::new(0),
            arrived: Notify::new(),
        });
        let serving = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = Arc::clone(&serving);
                tokio::spawn(async move {
                    let _ = session(stream, shared).await;
                });
            }
        });
        Self {
            addr,
            shared,
            task,
            ca_file,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Points `config` at this sink (see the module's documentation).
    pub fn configure(&self, config: &mut Config) {
        configure_at(config, self.port(), &self.shared.options, self.ca());
    }

    fn ca(&self) -> Option<(std::path::PathBuf, String)> {
        match (&self.ca_file, &self.shared.tls) {
            (Some(file), Some((_, pem))) => Some((file.path().to_owned(), pem.clone())),
            _ => None,
        }
    }

    /// Every message received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// The next message not yet taken, waiting up to `wait::PATIENCE` (30 s).
    pub async fn next_mail(&self) -> ReceivedMail {
        self.next_mail_within(super::wait::PATIENCE)
            .await
            .expect("a message reaches the SMTP sink in time")
    }

    /// The next message not yet taken, or `None` after `wait`.
    pub async fn next_mail_within(&self, wait: Duration) -> Option<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let arrived = self.shared.arrived.notified();
            {
                let received = self.shared.received.lock().unwrap();
                let mut taken = self.shared.taken.lock().unwrap();
                if let Some(mail) = received.get(*taken) {
                    *taken += 1;
                    return Some(mail.clone());
                }
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }
}

/// `configure` for a sink that is not running yet (`port` from `SmtpSink::free_port`),
/// plain TCP and no AUTH.
pub fn configure_smtp_at(config: &mut Config, port: u16) {
    configure_at(config, port, &SinkOptions::default(), None);
}

fn configure_at(
    config: &mut Config,
    port: u16,
    options: &SinkOptions,
    ca: Option<(std::path::PathBuf, String)>,
) {
    config.email.from = "Portcullis <id@portcullis.test>".into();
    config.email.poll_interval = Duration::from_millis(200);
    config.email.backend = EmailBackend::Smtp(SmtpConfig {
        // The certificate is for `localhost`; plain TCP goes to the address itself.
        host: if options.starttls {
            "localhost".into()
        } else {
            "127.0.0.1".into()
        },
        port,
        tls: if options.starttls {
            SmtpTls::Starttls
        } else {
            SmtpTls::None
        },
        credentials: options
            .credentials
            .as_ref()
            .map(|(username, password)| SmtpCredentials {
                username: username.clone(),
                password: password.clone().into(),
            }),
        extra_roots: ca,
        timeout: Duration::from_secs(5),
    });
}

/// A self-signed certificate for `localhost`, and the acceptor that serves it.
fn test_certificate() -> (tokio_rustls::TlsAcceptor, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem)
}

/// What a session has learnt so far.
#[derive(Default)]
struct State {
    over_tls: bool,
    auth_user: Option<String>,
    from: Option<String>,
    to: Vec<String>,
}

enum Next {
    Quit,
    StartTls,
}

async fn session(stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(b"220 sink.test ESMTP\r\n")
        .await?;
    let mut state = State::default();
    match converse(&mut reader, &shared, &mut state).await? {
        Next::Quit => Ok(()),
        Next::StartTls => {
            let Some((acceptor, _)) = &shared.tls else {
                return Ok(());
            };
            let tls = acceptor.accept(reader.into_inner()).await?;
            let mut reader = BufReader::new(tls);
            // RFC 3207: everything learnt before STARTTLS is forgotten.
            let mut state = State {
                over_tls: true,
                ..State::default()
            };
            converse(&mut reader, &shared, &mut state).await?;
            Ok(())
        }
    }
}

async fn converse<S>(
    reader: &mut BufReader<S>,
    shared: &Shared,
    state: &mut State,
) -> std::io::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let options = &shared.options;
    loop {
        let Some(line) = read_line(reader).await? else {
            return Ok(Next::Quit);
        };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_owned();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                let mut lines = vec!["250-sink.test".to_owned(), "250-8BITMIME".to_owned()];
                if shared.tls.is_some() && !state.over_tls {
                    lines.push("250-STARTTLS".into());
                }
                if options.credentials.is_some() {
                    lines.push("250-AUTH PLAIN".into());
                }
                lines.push("250 SMTPUTF8".into());
                lines.join("\r\n")
            }
            "HELO" => "250 sink.test".into(),
            "STARTTLS" if shared.tls.is_some() && !state.over_tls => {
                reader.get_mut().write_all(b"220 2.0.0 ready\r\n").await?;
                return Ok(Next::StartTls);
            }
            "AUTH" => auth(reader, &line, options, state).await?,
            "MAIL" if shared.tls.is_some() && !state.over_tls => {
                "530 5.7.0 Must issue a STARTTLS command first".into()
            }
            "MAIL" if options.credentials.is_some() && state.auth_user.is_none() => {
                "530 5.7.0 Authentication required".into()
            }
            "MAIL" => {
                state.from = Some(angle(&line));
                state.to.clear();
                "250 2.1.0 OK".into()
            }
            "RCPT" if options.refuse_recipients => "550 5.1.1 No such user here".into(),
            "RCPT" => {
                state.to.push(angle(&line));
                "250 2.1.5 OK".into()
            }
            "DATA" if state.from.is_none() || state.to.is_empty() => {
                "503 5.5.1 MAIL and RCPT first".into()
            }
            "DATA" => {
                reader
                    .get_mut()
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let raw = read_data(reader).await?;
                let mail = parse(
                    raw,
                    state.from.take().unwrap_or_default(),
                    std::mem::take(&mut state.to),
                    state.auth_user.clone(),
                    state.over_tls,
                );
                shared.received.lock().unwrap().push(mail);
                shared.arrived.notify_waiters();
                "250 2.0.0 OK queued".into()
            }
            "RSET" => {
                state.from = None;
                state.to.clear();
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "QUIT" => {
                reader.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(Next::Quit);
            }
            _ => "502 5.5.2 Command not implemented".into(),
        };
        reader.get_mut().write_all(reply.as_bytes()).await?;
        reader.get_mut().write_all(b"\r\n").await?;
    }
}

async fn auth<S>(
    reader: &mut BufReader<S>,
    line: &str,
    options: &SinkOptions,
    state: &mut State,
) -> std::io::Result<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some((user, password)) = &options.credentials else {
        return Ok("502 5.5.2 AUTH not offered".into());
    };
    let mut words = line.split_whitespace().skip(1);
    if !words
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("PLAIN"))
    {
        return Ok("504 5.5.4 Only PLAIN".into());
    }
    let initial = match words.next() {
        Some(initial) => initial.to_owned(),
        None => {
            reader.get_mut().write_all(b"334 \r\n").await?;
            read_line(reader).await?.unwrap_or_default()
        }
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(initial.trim())
        .unwrap_or_default();
    let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
    let good = parts.len() == 3 && parts[1] == user.as_bytes() && parts[2] == password.as_bytes();
    Ok(if good {
        state.auth_user = Some(user.clone());
        "235 2.7.0 Authentication successful".into()
    } else {
        "535 5.7.8 Authentication credentials invalid".into()
    })
}

/// The address between `<` and `>` of `MAIL FROM:<a@b> ...` or `RCPT TO:<a@b>`.
fn angle(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

async fn read_line<S>(reader: &mut BufReader<S>) -> std::io::Result<Option<String>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The DATA lines up to the lone `.`, with dot-stuffing undone.
async fn read_data<S>(reader: &mut BufReader<S>) -> std::io::Result<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut raw = String::new();
    loop {
        let Some(line) = read_line(reader).await? else {
            return Ok(raw);
        };
        if line == "." {
            return Ok(raw);
        }
        raw.push_str(line.strip_prefix('.').unwrap_or(&line));
        raw.push_str("\r\n");
    }
}

fn parse(
    raw: String,
    envelope_from: String,
    envelope_to: Vec<String>,
    auth_user: Option<String>,
    over_tls: bool,
) -> ReceivedMail {
    use mail_parser::{MessageParser, PartType};
    let message = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the SMTP sink received a parsable message");
    let from = message.from().and_then(|a| a.first());
    let text = message.parts.iter().find_map(|p| match &p.body {
        PartType::Text(text) => Some(text.to_string()),
        _ => None,
    });
    let html = message.parts.iter().find_map(|p| match &p.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    });
    ReceivedMail {
        envelope_from,
        envelope_to,
        from: from
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        from_name: from.and_then(|a| a.name()).map(str::to_owned),
        to: message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: text.unwrap_or_default(),
        html,
        auth_user,
        over_tls,
        raw,
    }
}
