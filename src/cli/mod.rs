//! The command line: parse, load config, call the library, print. `--json` gives machine
//! output on every command; errors go to stderr with a non-zero exit status.

pub(crate) mod commands;
mod healthcheck;
pub mod time;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, Overrides};

/// Heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "OAuth 2.1 / OpenID Connect authorization server",
    long_about = "OAuth 2.1 / OpenID Connect authorization server.\n\nSettings come from \
                  --config FILE, then PORTCULLIS_* environment variables, then the global \
                  flags below (each wins over the one before). Times are shown as RFC 3339 \
                  in UTC and accepted as RFC 3339, unix seconds or an age such as 30m, 1h, 2d.",
    after_help = "`portcullis man` prints the manual page; `portcullis completions SHELL` a \
                  completion script."
)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_CONFIG",
        value_name = "FILE",
        help_heading = GLOBAL
    )]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON output (times stay unix seconds there).
    #[arg(long, global = true, help_heading = GLOBAL)]
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
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub issuer: Option<String>,
    /// Data directory (`data_dir`).
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`database.url`): sqlite://PATH or postgres://...
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub database_url: Option<String>,
    /// Public listener address (`http.bind`).
    #[arg(long, global = true, value_name = "ADDR", help_heading = GLOBAL)]
    pub http_bind: Option<String>,
    /// Admin listener address (`admin.bind`).
    #[arg(long, global = true, value_name = "ADDR", help_heading = GLOBAL)]
    pub admin_bind: Option<String>,
    /// `text` or `json` (`log.format`).
    #[arg(long, global = true, value_parser = parse_log_format, value_name = "FORMAT", help_heading = GLOBAL)]
    pub log_format: Option<LogFormat>,
    /// Log filter such as `info` or `portcullis=debug` (`log.level`).
    #[arg(long, global = true, value_name = "FILTER", help_heading = GLOBAL)]
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
    /// Apply pending database migrations; `status` and `revert` inspect and undo them.
    #[command(args_conflicts_with_subcommands = true)]
    Migrate {
        #[command(subcommand)]
        command: Option<MigrateCommand>,
    },
    /// Copy the SQLite database to a file while the server runs (Postgres: use pg_dump).
    Backup {
        /// The file to write; it must not exist unless --force is given.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace FILE when it exists.
        #[arg(long)]
        force: bool,
    },
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
    /// Check this deployment's configuration and data against Portcullis's security
    /// rules; exits 2 on any high finding (a deployment gate), 0 otherwise. Findings and
    /// their fixes: docs/doctor.md.
    Doctor {
        /// `text` (a table, the default) or `json` (also chosen by `--json`).
        #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
        format: DoctorFormat,
    },
    /// Write clients and users (with roles) as JSON files into a directory. Signing keys
    /// are never exported.
    Export {
        /// Directory to write the files into (created when missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Also write password hashes and client secret digests (keep the files secret).
        #[arg(long)]
        include_credentials: bool,
    },
    /// Create or update clients and users from an export directory, all or nothing.
    Import {
        /// Directory written by `export`.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Also apply password hashes and client secret digests found in the files.
        #[arg(long)]
        include_credentials: bool,
    },
    /// Print a shell completion script (needs no configuration or database).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a directory.
    Man {
        /// Write portcullis.1 and a page for every subcommand into DIR instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// List applied and pending migrations.
    Status,
    /// Revert the newest applied migration (its down.sql). Stop the servers first.
    Revert {
        /// Confirm: reverting drops what the migration added, data included.
        #[arg(long)]
        yes: bool,
    },
}

/// How `doctor` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorFormat {
    /// A table: severity, id, subject, then what was found and the fix.
    Text,
    /// The report as the admin API returns it.
    Json,
}

fn parse_head(text: &str) -> Result<crate::audit::ChainHead, String> {
    text.parse().map_err(|e: &str| e.to_owned())
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List events, oldest first.
    Query {
        /// Earliest time, inclusive: RFC 3339, unix seconds, or an age (30m, 1h, 2d).
        #[arg(long, alias = "from", value_name = "TIME", value_parser = time::parse_instant)]
        since: Option<i64>,
        /// Latest time, inclusive: RFC 3339, unix seconds, or an age (30m, 1h, 2d).
        #[arg(long, alias = "to", value_name = "TIME", value_parser = time::parse_instant)]
        until: Option<i64>,
        /// Event type, or a prefix ending in `*` (`user.*`).
        #[arg(long = "type", value_name = "TYPE")]
        event_type: Option<String>,
        /// `cli`, `system`, `user:<id>` or `client:<client_id>`.
        #[arg(long)]
        actor: Option<String>,
        /// What the event is about: a user id, client_id or key id.
        #[arg(long)]
        subject: Option<String>,
        /// Matching events to skip.
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Most events to list.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Check the keyed hash chain; exits non-zero and names the first changed, deleted,
    /// reordered or unkeyed row when it is broken.
    Verify {
        /// A head written down earlier (`SEQ:HASH`, from `audit verify` or the audit log
        /// lines): the check also fails when the log no longer holds it unchanged, which
        /// is how rows cut off the end are found.
        #[arg(long, value_parser = parse_head, value_name = "SEQ:HASH")]
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
    Retire {
        /// The key's id (`kid`), as `keys list` shows it.
        kid: String,
    },
    /// Re-encrypt every key under the first configured master key.
    Rewrap,
    /// Print a fresh random master key (base64 of 32 bytes) for `keys.master_keys_file`
    /// or `keys.master_keys`. Needs no configuration and no database.
    GenerateMasterKey,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate and print the effective configuration (secrets redacted); never opens the
    /// database.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; without --password-stdin a random password is printed once.
    Create {
        /// Login name (normalised: NFKC, case-folded).
        username: String,
        /// Email address (unverified).
        #[arg(long)]
        email: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// A role to give (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
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
        /// Users to skip.
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Most users to list.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show one user.
    Show {
        /// Username or id.
        user: String,
    },
    /// Set a password (from stdin with --password-stdin, else generated and printed once)
    /// and sign the user out everywhere.
    SetPassword {
        /// Username or id.
        user: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user from signing in, and sign them out everywhere.
    Disable {
        /// Username or id.
        user: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        /// Username or id.
        user: String,
    },
    /// Give a user a role.
    AddRole {
        /// Username or id.
        user: String,
        /// The role, such as `admin`, `operator` or `auditor`.
        role: String,
    },
    /// Take a role from a user.
    RemoveRole {
        /// Username or id.
        user: String,
        /// The role to remove.
        role: String,
    },
    /// Delete a user.
    Delete {
        /// Username or id.
        user: String,
    },
    /// Change profile fields.
    Update {
        /// Username or id.
        user: String,
        /// New login name.
        #[arg(long)]
        username: Option<String>,
        /// New email address (unverified unless --email-verified true).
        #[arg(long, conflicts_with = "no_email")]
        email: Option<String>,
        /// Remove the email address.
        #[arg(long)]
        no_email: bool,
        /// Mark the email address verified (`true`) or not (`false`).
        #[arg(long, value_name = "BOOL")]
        email_verified: Option<bool>,
        /// New display name.
        #[arg(long, conflicts_with = "no_name")]
        name: Option<String>,
        /// Remove the display name.
        #[arg(long)]
        no_name: bool,
    },
    /// List where the user is signed in: their live browser sessions (device, address,
    /// started, last seen).
    Sessions {
        /// Username or id.
        user: String,
    },
    /// End one browser session of the user (its id from `user sessions`), as logout would.
    EndSession {
        /// Username or id.
        user: String,
        /// The session's id, as `user sessions` shows it.
        session: String,
    },
    /// List the user's active grants (refresh-token families held by applications).
    Grants {
        /// Username or id.
        user: String,
    },
    /// Sign the user out everywhere: every browser session ended, every grant revoked.
    RevokeSessions {
        /// Username or id.
        user: String,
    },
    /// List the user's second factors (authenticator app, passkeys) and how many recovery
    /// codes are left; never a secret.
    Factors {
        /// Username or id.
        user: String,
    },
    /// Remove every second factor and recovery code of the user, and sign them out
    /// everywhere.
    ResetFactors {
        /// Username or id.
        user: String,
    },
    /// Give the user a confirmed authenticator app (provisioning, tests): prints its
    /// secret and otpauth:// URI once. Refused when they already have one.
    EnrollTotp {
        /// Username or id.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Create {
        /// Name shown on the consent page.
        #[arg(long)]
        name: String,
        /// Choose the client_id (default: generated).
        #[arg(long)]
        client_id: Option<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// An allowed redirect URI, matched exactly (repeatable).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// An allowed URI after RP-initiated logout (repeatable).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A grant type it may use, such as authorization_code (repeatable).
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
        /// A scope it may ask for (repeatable, or space-separated).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A role its client_credentials tokens carry (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Skip the consent page for this client.
        #[arg(long)]
        first_party: bool,
        /// client_secret_basic (default), client_secret_post, or none (public).
        #[arg(long, value_name = "METHOD")]
        token_endpoint_auth_method: Option<String>,
        /// Let a confidential client skip PKCE (never allowed for public clients).
        #[arg(long)]
        no_require_pkce: bool,
        /// Ask every user who signs in through this client for a second factor
        /// (`--require-mfa`, `--require-mfa=true|false`; off when not given).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        require_mfa: Option<bool>,
        /// Access token lifetime in seconds (default: `tokens.access_token_lifetime_secs`).
        #[arg(long, value_name = "SECS")]
        access_token_lifetime: Option<i64>,
        /// Refresh token lifetime in seconds (default: `tokens.refresh_token_lifetime_secs`).
        #[arg(long, value_name = "SECS")]
        refresh_token_lifetime: Option<i64>,
        /// An RFC 8707 resource URI the client may ask tokens for (repeatable).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
    },
    /// List clients (never a secret).
    List,
    /// Show one client (never a secret).
    Show {
        /// The client's client_id.
        client_id: String,
    },
    /// Change settings; list flags replace the whole list.
    Update {
        /// The client's client_id.
        client_id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Replaces the redirect URIs (repeatable).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Option<Vec<String>>,
        /// Replaces the post-logout redirect URIs (repeatable).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Option<Vec<String>>,
        /// Replaces the grant types (repeatable).
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Option<Vec<String>>,
        /// Replaces the scopes (repeatable); refresh tokens narrow at their next use.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Option<Vec<String>>,
        /// Replaces the roles (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Option<Vec<String>>,
        /// Skip the consent page (`true`) or not (`false`).
        #[arg(long, value_name = "BOOL")]
        first_party: Option<bool>,
        /// client_secret_basic, client_secret_post, or none.
        #[arg(long, value_name = "METHOD")]
        token_endpoint_auth_method: Option<String>,
        /// Require PKCE (`true`) or let a confidential client skip it (`false`).
        #[arg(long, value_name = "BOOL")]
        require_pkce: Option<bool>,
        /// Ask every user who signs in through this client for a second factor
        /// (`--require-mfa` or `--require-mfa=true`; `--require-mfa=false` turns it off).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        require_mfa: Option<bool>,
        /// Access token lifetime in seconds.
        #[arg(long, value_name = "SECS")]
        access_token_lifetime: Option<i64>,
        /// Refresh token lifetime in seconds.
        #[arg(long, value_name = "SECS")]
        refresh_token_lifetime: Option<i64>,
        /// Disable the client and end every grant it holds.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled client.
        #[arg(long)]
        enable: bool,
        /// Replaces the RFC 8707 resource allow-list (repeatable).
        #[arg(long = "resource", conflicts_with = "no_resources", value_name = "URI")]
        resources: Option<Vec<String>>,
        /// Clears the resource allow-list: tokens are for this server only.
        #[arg(long)]
        no_resources: bool,
    },
    /// Delete a client.
    Delete {
        /// The client's client_id.
        client_id: String,
    },
    /// Issue a new secret (printed once); the old one stops working.
    RotateSecret {
        /// The client's client_id.
        client_id: String,
    },
    /// Make a self-registered client (origin `registration` or `metadata_document`) an
    /// operator's (origin `cli`): the janitor no longer deletes it when idle, and its
    /// registration access token stops working.
    Promote {
        /// The client's client_id.
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
        #[arg(long, value_name = "N")]
        uses: Option<u32>,
        /// Seconds it lives (default a week; at most 366 days).
        #[arg(long, value_name = "SECS")]
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
        // Printed already; the status alone tells a deployment gate to stop.
        Err(commands::CliError::HighFindings) => ExitCode::from(commands::HIGH_FINDINGS_EXIT),
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
