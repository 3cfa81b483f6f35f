//! Running the server: `serve`, `healthcheck` and `migrate`.

use serde_json::json;

use super::output::{Output, print_lossy};
use super::{CliError, quiet_logs};
use crate::app::{self, Application};
use crate::cli::healthcheck;
use crate::clock::{Clock as _, SystemClock};
use crate::config::{Config, LogFormat};
use crate::log_batch::LogBatch;
use crate::telemetry::LogOutput;

pub(super) fn healthcheck(config: &Config, out: Output) -> Result<(), CliError> {
    let status = healthcheck::probe(config.admin_bind).map_err(CliError::Other)?;
    out.show(&json!({ "status": status, "ready": status == 200 }), |_| {
        println!("/health/ready answered {status}");
    })?;
    if status == 200 {
        Ok(())
    } else {
        Err(CliError::Other(format!("not ready (HTTP {status})")))
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
    // Once, at start: every connection of the pool would say the same.
    if let Some(hosts) = config.database.url.plain_text_risk() {
        tracing::warn!(
            hosts,
            "the database is on another machine and reached without TLS (sslmode=disable): \
             its password and every query cross the network in plain text; use \
             sslmode=verify-full with sslrootcert"
        );
    }
    let app = Application::build(config).await?;
    let state = app.state().clone();
    let bootstrapped = app::bootstrap_admin(&state.service).await?;
    // The first admin is created without a password, so one is always generated.
    if let Some((created, password)) = bootstrapped
        .as_ref()
        .and_then(|c| Some((c, c.generated_password.as_deref()?.as_str())))
    {
        // Printed, never logged: a log pipeline would keep it. `print_lossy`, not
        // `Output`: a closed stdout must not stop the server.
        if out.is_json() {
            print_lossy(
                &json!({
                    "bootstrap_admin": { "username": created.user.username, "password": password }
                })
                .to_string(),
            );
        } else {
            print_lossy(&format!(
                "\n  First run: created user `{}` with role `admin`.\n  Password (shown once): {password}\n  Change it with `portcullis user set-password {} --password-stdin`.\n",
                created.user.username, created.user.username
            ));
        }
    }
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
