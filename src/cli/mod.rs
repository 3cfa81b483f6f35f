//! The command line: parse, load config, call the library, print. `--json` gives machine
//! output on every command; errors go to stderr with a non-zero exit status.

mod commands;
mod healthcheck;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "OAuth 2.1 / OpenID Connect authorization server"
)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags that override the file and the environment.
#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// Issuer URL (`issuer`).
    #[arg(long, global = true)]
    pub issuer: Option<String>,
    /// Data directory (`data_dir`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`database.url`): sqlite://PATH or postgres://...
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Public listener address (`http.bind`).
    #[arg(long, global = true)]
    pub http_bind: Option<String>,
    /// Admin listener address (`admin.bind`).
    #[arg(long, global = true)]
    pub admin_bind: Option<String>,
    /// `text` or `json` (`log.format`).
    #[arg(long, global = true, value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
    /// Log filter such as `info` or `portcullis=debug` (`log.level`).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not `text` or `json`")),
    }
}

impl OverrideArgs {
    fn to_overrides(&self) -> Overrides {
        Overrides {
            issuer: self.issuer.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            http_bind: self.http_bind.clone(),
            admin_bind: self.admin_bind.clone(),
            log_format: self.log_format,
            log_level: self.log_level.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Exit 0 when the running server's /health/ready answers 200 (with --live:
    /// /health/live, which does not depend on the database).
    Healthcheck {
        /// Probe liveness (`/health/live`) instead of readiness: for container health
        /// checks, so a database outage does not mark every container unhealthy at once.
        #[arg(long)]
        live: bool,
    },
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write clients and users (with roles) as JSON files into a directory. Signing keys
    /// are never exported.
    Export {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Also write password hashes and client secret digests (keep the files secret).
        #[arg(long)]
        include_credentials: bool,
    },
    /// Create or update clients and users from an export directory, all or nothing.
    Import {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Also apply password hashes and client secret digests found in the files.
        #[arg(long)]
        include_credentials: bool,
    },
}

fn parse_head(text: &str) -> Result<crate::audit::ChainHead, String> {
    text.parse().map_err(|e: &str| e.to_owned())
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List events, oldest first.
    Query {
        /// Earliest time (unix seconds, inclusive).
        #[arg(long)]
        from: Option<i64>,
        /// Latest time (unix seconds, inclusive).
        #[arg(long)]
        to: Option<i64>,
        /// Event type, or a prefix ending in `*` (`user.*`).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// `cli`, `system`, `user:<id>` or `client:<client_id>`.
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Check the keyed hash chain; exits non-zero and names the first changed, deleted,
    /// reordered or unkeyed row when it is broken.
    Verify {
        /// A head written down earlier (`SEQ:HASH`, from `audit verify` or the audit log
        /// lines): the check also fails when the log no longer holds it unchanged, which
        /// is how rows cut off the end are found.
        #[arg(long, value_parser = parse_head)]
        head: Option<crate::audit::ChainHead>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List published keys and their lifecycle.
    List,
    /// Start a rotation now; the next key signs once JWKS caches have seen it.
    Rotate {
        /// Switch at once (a compromised key): cached JWKS will not know the new key.
        #[arg(long)]
        immediately: bool,
    },
    /// Retire a key: a pending key is deleted, the active key is replaced at once.
    Retire { kid: String },
    /// Re-encrypt every key under the first configured master key.
    Rewrap,
    /// Print a fresh random master key (base64 of 32 bytes) for `keys.master_keys_file`
    /// or `keys.master_keys`. Needs no configuration and no database.
    GenerateMasterKey,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate and print the effective configuration (secrets redacted).
    Check,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; without --password-stdin a random password is printed once.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Substring of username or email.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show one user (by username or id).
    Show {
        user: String,
    },
    /// Set a password (from stdin with --password-stdin, else generated and printed once).
    SetPassword {
        user: String,
        #[arg(long)]
        password_stdin: bool,
    },
    Disable {
        user: String,
    },
    Enable {
        user: String,
    },
    AddRole {
        user: String,
        role: String,
    },
    RemoveRole {
        user: String,
        role: String,
    },
    Delete {
        user: String,
    },
    /// Change profile fields.
    Update {
        user: String,
        #[arg(long)]
        username: Option<String>,
        #[arg(long, conflicts_with = "no_email")]
        email: Option<String>,
        /// Remove the email address.
        #[arg(long)]
        no_email: bool,
        #[arg(long)]
        email_verified: Option<bool>,
        #[arg(long, conflicts_with = "no_name")]
        name: Option<String>,
        /// Remove the display name.
        #[arg(long)]
        no_name: bool,
    },
    /// List the user's active sessions (grants: refresh-token families).
    Sessions {
        user: String,
    },
    /// Revoke every session (grant) of the user.
    RevokeSessions {
        user: String,
    },
    /// List the user's second factors (authenticator app, passkeys) and how many recovery
    /// codes are left; never a secret.
    Factors {
        user: String,
    },
    /// Remove every second factor and recovery code of the user, and sign them out
    /// everywhere.
    ResetFactors {
        user: String,
    },
    /// Give the user a confirmed authenticator app (provisioning, tests): prints its
    /// secret and otpauth:// URI once. Refused when they already have one.
    EnrollTotp {
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        client_id: Option<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Skip the consent page for this client.
        #[arg(long)]
        first_party: bool,
        /// client_secret_basic (default), client_secret_post, or none (public).
        #[arg(long)]
        token_endpoint_auth_method: Option<String>,
        /// Let a confidential client skip PKCE (never allowed for public clients).
        #[arg(long)]
        no_require_pkce: bool,
        /// Ask every user who signs in through this client for a second factor
        /// (`--require-mfa`, `--require-mfa=true|false`; off when not given).
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        require_mfa: Option<bool>,
        #[arg(long)]
        access_token_lifetime: Option<i64>,
        #[arg(long)]
        refresh_token_lifetime: Option<i64>,
        /// An RFC 8707 resource URI the client may ask tokens for (repeatable).
        #[arg(long = "resource")]
        resources: Vec<String>,
    },
    List,
    Show {
        client_id: String,
    },
    /// Change settings; list flags replace the whole list.
    Update {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "redirect-uri")]
        redirect_uris: Option<Vec<String>>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Option<Vec<String>>,
        #[arg(long = "grant")]
        grants: Option<Vec<String>>,
        #[arg(long = "scope")]
        scopes: Option<Vec<String>>,
        #[arg(long = "role")]
        roles: Option<Vec<String>>,
        #[arg(long)]
        first_party: Option<bool>,
        #[arg(long)]
        token_endpoint_auth_method: Option<String>,
        #[arg(long)]
        require_pkce: Option<bool>,
        /// Ask every user who signs in through this client for a second factor
        /// (`--require-mfa` or `--require-mfa=true`; `--require-mfa=false` turns it off).
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        require_mfa: Option<bool>,
        #[arg(long)]
        access_token_lifetime: Option<i64>,
        #[arg(long)]
        refresh_token_lifetime: Option<i64>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
        /// Replaces the RFC 8707 resource allow-list (repeatable).
        #[arg(long = "resource", conflicts_with = "no_resources")]
        resources: Option<Vec<String>>,
        /// Clears the resource allow-list: tokens are for this server only.
        #[arg(long)]
        no_resources: bool,
    },
    Delete {
        client_id: String,
    },
    /// Issue a new secret (printed once); the old one stops working.
    RotateSecret {
        client_id: String,
    },
    /// Make a self-registered client (origin `registration` or `metadata_document`) an
    /// operator's (origin `cli`): the janitor no longer deletes it when idle, and its
    /// registration access token stops working.
    Promote {
        client_id: String,
    },
    /// Initial access tokens, which `registration.mode = "initial_access_token"` requires
    /// to register a client (RFC 7591).
    #[command(subcommand)]
    RegistrationToken(RegistrationTokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Make a token (printed once; only its digest is stored).
    Create {
        /// Registrations it allows (default 1).
        #[arg(long)]
        uses: Option<u32>,
        /// Seconds it lives (default a week; at most 366 days).
        #[arg(long)]
        expires_in: Option<i64>,
    },
}

/// Entry point for `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // HTTP is served by actix's own worker threads and the database by the store's: this
    // runtime only runs timers and background tasks, so one thread does.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if json {
                eprintln!("{}", serde_json::json!({ "error": err.to_string() }));
            } else {
                eprintln!("error: {err}");
            }
            ExitCode::FAILURE
        }
    }
}
