//! Running the server: `serve`, `healthcheck` and `migrate`.

use std::io::IsTerminal as _;

use serde_json::json;

use super::bootstrap;
use super::output::Output;
use super::{CliError, quiet_logs};
use crate::app::{self, Application};
use crate::cli::healthcheck;
use crate::clock::{Clock as _, SystemClock};
use crate::config::{Config, LogFormat};
use crate::log_batch::LogBatch;
use crate::telemetry::LogOutput;

pub(super) fn healthcheck(config: &Config, live: bool, out: Output) -> Result<(), CliError> {
    let path = if live {
        healthcheck::LIVE
    } else {
        healthcheck::READY
    };
    let status = healthcheck::probe(config.admin_bind, path).map_err(CliError::Other)?;
    let ok = status == 200;
    let shown = if live {
        json!({ "status": status, "live": ok })
    } else {
        json!({ "status": status, "ready": ok })
    };
    out.show(&shown, |_| {
        println!("{path} answered {status}");
    })?;
    match (ok, live) {
        (true, _) => Ok(()),
        (false, true) => Err(CliError::Other(format!("not live (HTTP {status})"))),
        (false, false) => Err(CliError::Other(format!("not ready (HTTP {status})"))),
    }
}

pub(super) async fn migrate(mut config: Config, out: Output) -> Result<(), CliError> {
    quiet_logs(&config);
    config.database.migrate_on_start = false;
    let now = SystemClock.now();
    let store = app::open_store(&config, now).await?;
    let applied = store
        .migrate(now)
        .await
        .map_err(|e| CliError::Other(format!("migrations failed: {e}")))?;
    out.show(&json!({ "applied": applied }), |_| {
        if applied.is_empty() {
            println!("the database is up to date");
        } else {
            println!(
                "applied {} migration(s): {}",
                applied.len(),
                applied.join(", ")
            );
        }
    })
}

pub(super) async fn serve(config: Config, no_migrate: bool, out: Output) -> Result<(), CliError> {
    crate::telemetry::init_logging(config.log_format, &config.log_level, LogOutput::Batched)
        .map_err(CliError::Other)?;
    let served = serve_logged(config, no_migrate, out).await;
    // Before the caller prints an error: the lines that led to it come first.
    LogBatch::flush_stderr();
    served
}

async fn serve_logged(mut config: Config, no_migrate: bool, out: Output) -> Result<(), CliError> {
    if no_migrate {
        config.database.migrate_on_start = false;
    }
    let database = config.database.url.redacted();
    for deprecation in &config.deprecations {
        tracing::warn!("{deprecation}");
    }
    // Once, at start: every connection of the pool would say the same.
    if let Some(hosts) = config.database.url.plain_text_risk() {
        tracing::warn!(
            hosts,
            "the database is on another machine and reached without TLS (sslmode=disable): \
             its password and every query cross the network in plain text; use \
             sslmode=verify-full with sslrootcert"
        );
    }
    // Before anything is built: a missing or weak password file is a start-up error even
    // on a database that already has its admin, so a wrong setting is seen at once.
    let supplied = config
        .bootstrap_admin_password_file
        .as_deref()
        .map(bootstrap::read_supplied)
        .transpose()?;
    let app = Application::build(config).await?;
    let state = app.state().clone();
    bootstrap::bootstrap(
        &state.service,
        &state.config.data_dir,
        supplied,
        std::io::stdout().is_terminal(),
        out,
    )
    .await?;
    tracing::info!(
        issuer = %state.config.issuer,
        database = %database,
        backend = %state.store.backend(),
        public = %app.public_addr(),
        admin = %app.admin_addr(),
        "portcullis is listening"
    );
    if state.config.log_format == LogFormat::Text && !state.config.issuer.is_https() {
        tracing::info!("development issuer over http: use https and a real host in production");
    }
    app.run_until_stopped()
        .await
        .map_err(|e| CliError::Other(format!("server error: {e}")))?;
    tracing::info!("portcullis stopped");
    Ok(())
}
