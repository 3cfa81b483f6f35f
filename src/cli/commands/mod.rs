//! One file per command group; `run` opens what a command needs and dispatches. Every
//! result is printed through [`output::Output`].

mod audit;
mod bootstrap;
mod clients;
mod config;
mod keys;
mod output;
mod serve;
mod transfer;
mod users;

use std::io::BufRead;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Cli, Command, ConfigCommand, KeysCommand};
use crate::app;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Sources};
use crate::crypto::keystore::KeyError;
use crate::manage::{ManageError, Service};
use crate::store::StoreError;
use crate::telemetry::LogOutput;
use output::Output;

/// Any failure of a command, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Start(#[from] app::StartError),
    #[error("{0}")]
    Manage(ManageError),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Other(String),
}

impl From<ManageError> for CliError {
    fn from(err: ManageError) -> Self {
        // Say why the database failed: this is an operator's terminal, not an HTTP body.
        match err {
            ManageError::Store(StoreError::Unavailable(cause)) => {
                Self::Other(format!("the database is unavailable: {cause}"))
            }
            ManageError::Store(StoreError::Query(cause)) => {
                Self::Other(format!("database error: {cause}"))
            }
            other @ (ManageError::Invalid { .. }
            | ManageError::NotFound(_)
            | ManageError::Conflict(_)
            | ManageError::Refused(_)
            | ManageError::Denied(_)
            | ManageError::Password(_)
            | ManageError::Store(_)
            | ManageError::Unauthenticated
            | ManageError::Full(_)) => Self::Manage(other),
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let out = Output::new(cli.json);
    // Before the configuration is loaded: a deployment without a master key does not
    // load until it has one, and this is how it gets one.
    if let Command::Keys(KeysCommand::GenerateMasterKey) = cli.command {
        return keys::generate_master_key(out);
    }
    let sources = Sources::from_process(cli.config.clone(), cli.overrides.to_overrides());
    let config = Config::load(&sources)?;
    match cli.command {
        Command::Serve { no_migrate } => serve::serve(config, no_migrate, out).await,
        Command::Healthcheck { live } => serve::healthcheck(&config, live, out),
        Command::Config(ConfigCommand::Check) => config::check(&config, out),
        Command::Migrate => serve::migrate(config, out).await,
        Command::User(cmd) => {
            let service = service(&config).await?;
            users::run(&service, &config, cmd, out).await
        }
        Command::Client(cmd) => {
            let service = service(&config).await?;
            clients::run(&service, cmd, out).await
        }
        Command::Keys(cmd) => {
            quiet_logs(&config);
            let now = SystemClock.now();
            let store = app::open_store(&config, now).await?;
            let keys = app::open_keystore(&config, store.clone(), now).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            keys::run(&service, &keys, cmd, now, out).await
        }
        Command::Audit(cmd) => {
            let service = service(&config).await?;
            audit::run(&service, cmd, out).await
        }
        Command::Export {
            dir,
            include_credentials,
        } => {
            let service = service(&config).await?;
            transfer::export(&service, &dir, include_credentials, out).await
        }
        Command::Import {
            dir,
            include_credentials,
        } => {
            let service = service(&config).await?;
            transfer::import(&service, &dir, include_credentials, out).await
        }
    }
}

/// What a management command works through, with logs quietened first.
async fn service(config: &Config) -> Result<Service, CliError> {
    quiet_logs(config);
    let store = app::open_store(config, SystemClock.now()).await?;
    Ok(app::management(config, store, Arc::new(SystemClock))?)
}

/// Management commands print results, not logs; only warnings reach stderr.
fn quiet_logs(config: &Config) {
    let _already = crate::telemetry::init_logging(config.log_format, "warn", LogOutput::Stderr);
}

fn read_password_line() -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Other(format!("cannot read the password from stdin: {e}")))?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if trimmed.is_empty() {
        return Err(CliError::Other("no password on stdin".into()));
    }
    Ok(trimmed)
}
