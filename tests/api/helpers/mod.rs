//! What every test file shares: a database and a server of the test's own (`db`, `app`),
//! the fixture kit for clients, users, tokens and audit counts (`fixtures`), a browser
//! for the sign-in pages (`browser`), waiting on a condition instead of sleeping (`wait`),
//! `skip_unless` for the few tests one backend cannot run, and a server of documents the
//! test controls for outbound fetches (`document_server`), and an SMTP server that records
//! the mail the server sends (`smtp_sink`: `SmtpSink::start()`, `sink.configure(config)`,
//! `sink.next_mail().await`; its module documentation has the whole API).
//!
//! A new test usually needs only:
//!
//! ```ignore
//! let app = spawn_app().await;
//! let web = app.confidential_client("web").grants(&["password"]).await;
//! let alice = app.user("alice").await;
//! let tokens = app.password_tokens(&web, &alice, None).await;
//! ```

mod app;
mod browser;
mod db;
pub mod document_server;
mod fixtures;
mod registration;
mod rp;
pub mod smtp_sink;
mod wait;

pub use app::*;
pub use browser::*;
pub use db::*;
pub use fixtures::*;
pub use registration::*;
pub use rp::*;
pub use smtp_sink::{SinkOptions, SmtpSink, configure_smtp_at};
pub use wait::*;
