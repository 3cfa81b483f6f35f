use std::io::BufRead;
use std::sync::Arc;

use serde_json::json;
use zeroize::Zeroizing;

use super::{
    AuditCommand, Cli, ClientCommand, Command, ConfigCommand, KeysCommand, UserCommand, healthcheck,
};
use crate::app::{self, Application};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, LogFormat, Sources};
use crate::crypto::keystore::{KeyError, KeyInfo, KeyStore};
use crate::log_batch::LogBatch;
use crate::manage::clients::{ClientUpdate, ClientView, NewClient};
use crate::manage::transfer;
use crate::manage::users::{NewUser, UserUpdate, UserView};
use crate::manage::{Actor, ManageError, Service};
use crate::store::StoreError;
use crate::store::models::audit::AuditFilter;
use crate::telemetry::LogOutput;

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
            | ManageError::Password(_)
            | ManageError::Store(_)) => Self::Manage(other),
        }
    }
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// For output of the long-running `serve`: a closed stdout (a supervisor that stopped
/// reading) must not bring the server down, so write errors are ignored here.
fn print_lossy(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ignored = writeln!(out, "{text}").and_then(|()| out.flush());
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

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let sources = Sources::from_process(cli.config.clone(), cli.overrides.to_overrides());
    let config = Config::load(&sources)?;
    let json = cli.json;
    match cli.command {
        Command::Serve { no_migrate } => serve(config, no_migrate, json).await,
        Command::Healthcheck => {
            let status = healthcheck::probe(config.admin_bind).map_err(CliError::Other)?;
            if json {
                print_json(&json!({ "status": status, "ready": status == 200 }));
            } else {
                println!("/health/ready answered {status}");
            }
            if status == 200 {
                Ok(())
            } else {
                Err(CliError::Other(format!("not ready (HTTP {status})")))
            }
        }
        Command::Config(ConfigCommand::Check) => {
            let shown = config.redacted();
            if json {
                print_json(&json!({ "valid": true, "config": shown }));
            } else {
                println!("configuration is valid");
                println!("{}", toml::to_string_pretty(&shown).unwrap_or_default());
            }
            Ok(())
        }
        Command::Migrate => {
            quiet_logs(&config);
            let mut config = config;
            config.database.migrate_on_start = false;
            let store = app::open_store(&config).await?;
            let applied = store
                .migrate()
                .await
                .map_err(|e| CliError::Other(format!("migrations failed: {e}")))?;
            if json {
                print_json(&json!({ "applied": applied }));
            } else if applied.is_empty() {
                println!("the database is up to date");
            } else {
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
            }
            Ok(())
        }
        Command::User(cmd) => {
            quiet_logs(&config);
            let store = app::open_store(&config).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            user(&service, cmd, json).await
        }
        Command::Client(cmd) => {
            quiet_logs(&config);
            let store = app::open_store(&config).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            client(&service, cmd, json).await
        }
        Command::Keys(cmd) => {
            quiet_logs(&config);
            let store = app::open_store(&config).await?;
            let now = SystemClock.now();
            let keys = app::open_keystore(&config, store.clone(), now).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            keys_command(&service, &keys, cmd, now, json).await
        }
        Command::Audit(cmd) => {
            quiet_logs(&config);
            let store = app::open_store(&config).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            audit_command(&service, cmd, json).await
        }
        Command::Export {
            dir,
            include_credentials,
        } => {
            quiet_logs(&config);
            let store = app::open_store(&config).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            let bundle = service.export_bundle(include_credentials).await?;
            transfer::write_dir(&bundle, &dir).map_err(|e| {
                CliError::Other(format!("cannot write the export to {}: {e}", dir.display()))
            })?;
            if json {
                print_json(&serde_json::to_value(&bundle.manifest).unwrap_or_default());
            } else {
                println!(
                    "exported {} user(s) and {} client(s) to {}{}",
                    bundle.manifest.users,
                    bundle.manifest.clients,
                    dir.display(),
                    if include_credentials {
                        " (with credentials: keep these files secret)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        Command::Import {
            dir,
            include_credentials,
        } => {
            quiet_logs(&config);
            let store = app::open_store(&config).await?;
            let service = app::management(&config, store, Arc::new(SystemClock))?;
            let bundle = transfer::read_dir(&dir)?;
            let report = service
                .import_bundle(&Actor::cli(), bundle, include_credentials)
                .await?;
            if json {
                print_json(&serde_json::to_value(&report).unwrap_or_default());
            } else {
                println!(
                    "users: {} created, {} updated, {} unchanged; clients: {} created, {} updated, {} unchanged",
                    report.users_created,
                    report.users_updated,
                    report.users_unchanged,
                    report.clients_created,
                    report.clients_updated,
                    report.clients_unchanged
                );
                if report.credentials_skipped {
                    println!(
                        "the files carry credentials that were not imported (add --include-credentials)"
                    );
                }
            }
            Ok(())
        }
    }
}

/// Management commands print results, not logs; only warnings reach stderr.
fn quiet_logs(config: &Config) {
    let _already = crate::telemetry::init_logging(config.log_format, "warn", LogOutput::Stderr);
}

async fn serve(config: Config, no_migrate: bool, json: bool) -> Result<(), CliError> {
    crate::telemetry::init_logging(config.log_format, &config.log_level, LogOutput::Batched)
        .map_err(CliError::Other)?;
    let served = serve_logged(config, no_migrate, json).await;
    // Before the caller prints an error: the lines that led to it come first.
    LogBatch::flush_stderr();
    served
}

async fn serve_logged(mut config: Config, no_migrate: bool, json: bool) -> Result<(), CliError> {
    if no_migrate {
        config.database.migrate_on_start = false;
    }
    let database = config.database.url.redacted();
    let app = Application::build(config).await?;
    let state = app.state().clone();
    if let Some(created) = app::bootstrap_admin(&state.service).await? {
        let password = created
            .generated_password
            .as_deref()
            .map(String::as_str)
            .unwrap_or_default();
        // Printed, never logged: a log pipeline would keep it.
        if json {
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

fn print_user(user: &UserView) {
    println!("id:             {}", user.id);
    println!("username:       {}", user.username);
    println!("email:          {}", user.email.as_deref().unwrap_or("-"));
    println!("name:           {}", user.name.as_deref().unwrap_or("-"));
    println!("disabled:       {}", user.disabled);
    println!("roles:          {}", user.roles.join(", "));
}

fn user_json(user: &UserView) -> serde_json::Value {
    serde_json::to_value(user).unwrap_or_default()
}

async fn user(svc: &Service, cmd: UserCommand, json: bool) -> Result<(), CliError> {
    let actor = Actor::cli();
    let show = |user: &UserView| {
        if json {
            print_json(&user_json(user));
        } else {
            print_user(user);
        }
    };
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            roles,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_password_line()?)
            } else {
                None
            };
            let created = svc
                .create_user(
                    &actor,
                    NewUser {
                        username,
                        email,
                        name,
                        roles,
                        password,
                    },
                )
                .await?;
            let generated = created.generated_password.as_deref().map(String::as_str);
            if json {
                let mut value = user_json(&created.user);
                if let (Some(obj), Some(p)) = (value.as_object_mut(), generated) {
                    obj.insert("password".into(), json!(p));
                }
                print_json(&value);
            } else {
                print_user(&created.user);
                if let Some(p) = generated {
                    println!("password:       {p}   (shown once)");
                }
            }
        }
        UserCommand::List {
            search,
            offset,
            limit,
        } => {
            let users = svc.list_users(search, offset, limit).await?;
            if json {
                print_json(&serde_json::to_value(&users).unwrap_or_default());
            } else {
                println!("{:<36}  {:<24}  {:<8}  roles", "id", "username", "status");
                for u in &users {
                    println!(
                        "{:<36}  {:<24}  {:<8}  {}",
                        u.id,
                        u.username,
                        if u.disabled { "disabled" } else { "enabled" },
                        u.roles.join(",")
                    );
                }
            }
        }
        UserCommand::Show { user } => show(&svc.get_user(&user).await?),
        UserCommand::SetPassword {
            user,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (crate::crypto::tokens::random_password(), true)
            };
            let shown = password.clone();
            let updated = svc.set_password(&actor, &user, password).await?;
            if json {
                let mut value = json!({ "id": updated.id, "username": updated.username });
                if let (Some(obj), true) = (value.as_object_mut(), generated) {
                    obj.insert("password".into(), json!(shown.as_str()));
                }
                print_json(&value);
            } else if generated {
                println!(
                    "new password for {} (shown once): {}",
                    updated.username,
                    shown.as_str()
                );
            } else {
                println!("password changed for {}", updated.username);
            }
        }
        UserCommand::Disable { user } => show(&svc.set_user_disabled(&actor, &user, true).await?),
        UserCommand::Enable { user } => show(&svc.set_user_disabled(&actor, &user, false).await?),
        UserCommand::AddRole { user, role } => {
            show(&svc.add_user_role(&actor, &user, &role).await?)
        }
        UserCommand::RemoveRole { user, role } => {
            show(&svc.remove_user_role(&actor, &user, &role).await?)
        }
        UserCommand::Delete { user } => {
            svc.delete_user(&actor, &user).await?;
            if json {
                print_json(&json!({ "deleted": user }));
            } else {
                println!("deleted user {user}");
            }
        }
        UserCommand::Update {
            user,
            username,
            email,
            no_email,
            email_verified,
            name,
            no_name,
        } => {
            let change = UserUpdate {
                username,
                email: if no_email {
                    Some(None)
                } else {
                    email.map(Some)
                },
                email_verified,
                name: if no_name { Some(None) } else { name.map(Some) },
            };
            show(&svc.update_user(&actor, &user, change).await?);
        }
        UserCommand::Sessions { user } => {
            let sessions = svc.list_user_sessions(&user).await?;
            if json {
                print_json(&serde_json::to_value(&sessions).unwrap_or_default());
            } else {
                println!(
                    "{:<36}  {:<24}  {:>12}  scope",
                    "session (grant id)", "client_id", "expires_at"
                );
                for s in &sessions {
                    println!(
                        "{:<36}  {:<24}  {:>12}  {}",
                        s.id, s.client_id, s.expires_at, s.scope
                    );
                }
            }
        }
        UserCommand::RevokeSessions { user } => {
            let revoked = svc.revoke_user_sessions(&actor, &user).await?;
            if json {
                print_json(&json!({ "revoked": revoked }));
            } else {
                println!("revoked {revoked} session(s) of {user}");
            }
        }
    }
    Ok(())
}

async fn audit_command(svc: &Service, cmd: AuditCommand, json: bool) -> Result<(), CliError> {
    match cmd {
        AuditCommand::Query {
            from,
            to,
            event_type,
            actor,
            subject,
            offset,
            limit,
        } => {
            let filter = AuditFilter {
                from,
                to,
                event_type,
                actor,
                subject,
            };
            let entries = svc.query_audit(filter, offset, limit).await?;
            if json {
                print_json(&serde_json::to_value(&entries).unwrap_or_default());
            } else {
                println!(
                    "{:>8}  {:>12}  {:<28}  {:<44}  subject",
                    "seq", "occurred_at", "type", "actor"
                );
                for e in &entries {
                    println!(
                        "{:>8}  {:>12}  {:<28}  {:<44}  {}",
                        e.seq,
                        e.occurred_at,
                        e.event_type,
                        e.actor.as_deref().unwrap_or("-"),
                        e.subject.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(())
        }
        AuditCommand::Verify => {
            let report = svc.verify_audit().await?;
            if json {
                print_json(&serde_json::to_value(&report).unwrap_or_default());
            } else if report.intact {
                println!("the audit log is intact ({} rows)", report.rows);
            }
            match &report.first_broken {
                None => Ok(()),
                Some(broken) => Err(CliError::Other(format!(
                    "the audit log is broken at seq {}: {}",
                    broken.seq, broken.reason
                ))),
            }
        }
    }
}

fn print_client(c: &ClientView) {
    println!("client_id:                  {}", c.client_id);
    println!("client_name:                {}", c.client_name);
    println!(
        "type:                       {}",
        if c.confidential {
            "confidential"
        } else {
            "public"
        }
    );
    println!("redirect_uris:              {}", c.redirect_uris.join(" "));
    println!(
        "post_logout_redirect_uris:  {}",
        c.post_logout_redirect_uris.join(" ")
    );
    println!("grant_types:                {}", c.grant_types.join(" "));
    println!("scope:                      {}", c.scope);
    println!(
        "token_endpoint_auth_method: {}",
        c.token_endpoint_auth_method
    );
    println!("first_party:                {}", c.first_party);
    println!("require_pkce:               {}", c.require_pkce);
    println!("roles:                      {}", c.roles.join(" "));
    println!("disabled:                   {}", c.disabled);
}

fn client_json(c: &ClientView) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or_default()
}

async fn client(svc: &Service, cmd: ClientCommand, json: bool) -> Result<(), CliError> {
    let actor = Actor::cli();
    let show = |c: &ClientView| {
        if json {
            print_json(&client_json(c));
        } else {
            print_client(c);
        }
    };
    match cmd {
        ClientCommand::Create {
            name,
            client_id,
            public,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            scopes,
            roles,
            first_party,
            token_endpoint_auth_method,
            no_require_pkce,
            access_token_lifetime,
            refresh_token_lifetime,
        } => {
            let created = svc
                .create_client(
                    &actor,
                    NewClient {
                        name,
                        client_id,
                        public,
                        redirect_uris,
                        post_logout_redirect_uris,
                        grant_types: grants,
                        scopes: split_scopes(scopes),
                        roles,
                        first_party,
                        token_endpoint_auth_method,
                        require_pkce: no_require_pkce.then_some(false),
                        access_token_lifetime,
                        refresh_token_lifetime,
                    },
                )
                .await?;
            let secret = created.client_secret.as_ref().map(|s| s.expose());
            if json {
                let mut value = client_json(&created.client);
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("client_secret".into(), json!(secret));
                }
                print_json(&value);
            } else {
                print_client(&created.client);
                if let Some(s) = secret {
                    println!("client_secret:              {s}   (shown once)");
                }
            }
        }
        ClientCommand::List => {
            let clients = svc.list_clients().await?;
            if json {
                print_json(&serde_json::to_value(&clients).unwrap_or_default());
            } else {
                println!(
                    "{:<36}  {:<24}  {:<12}  grants",
                    "client_id", "name", "type"
                );
                for c in &clients {
                    println!(
                        "{:<36}  {:<24}  {:<12}  {}",
                        c.client_id,
                        c.client_name,
                        if c.confidential {
                            "confidential"
                        } else {
                            "public"
                        },
                        c.grant_types.join(",")
                    );
                }
            }
        }
        ClientCommand::Show { client_id } => show(&svc.get_client(&client_id).await?),
        ClientCommand::Update {
            client_id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            scopes,
            roles,
            first_party,
            token_endpoint_auth_method,
            require_pkce,
            access_token_lifetime,
            refresh_token_lifetime,
            disable,
            enable,
        } => {
            let change = ClientUpdate {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: grants,
                scopes: scopes.map(split_scopes),
                roles,
                first_party,
                token_endpoint_auth_method,
                require_pkce,
                access_token_lifetime: access_token_lifetime.map(Some),
                refresh_token_lifetime: refresh_token_lifetime.map(Some),
                disabled: if disable {
                    Some(true)
                } else if enable {
                    Some(false)
                } else {
                    None
                },
            };
            show(&svc.update_client(&actor, &client_id, change).await?);
        }
        ClientCommand::Delete { client_id } => {
            svc.delete_client(&actor, &client_id).await?;
            if json {
                print_json(&json!({ "deleted": client_id }));
            } else {
                println!("deleted client {client_id}");
            }
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = svc.rotate_client_secret(&actor, &client_id).await?;
            if json {
                print_json(&json!({ "client_id": client_id, "client_secret": secret.expose() }));
            } else {
                println!("client_id:     {client_id}");
                println!("client_secret: {}   (shown once)", secret.expose());
            }
        }
    }
    Ok(())
}

/// `--scope "a b" --scope c` and `--scope a --scope b` mean the same.
fn split_scopes(scopes: Vec<String>) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned))
        .collect()
}

fn print_keys(keys: &[KeyInfo]) {
    println!(
        "{:<32}  {:<6}  {:<8}  {:>12}  {:>12}  {:>12}",
        "kid", "alg", "status", "created", "activated", "delete after"
    );
    let at = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    for k in keys {
        println!(
            "{:<32}  {:<6}  {:<8}  {:>12}  {:>12}  {:>12}",
            k.kid,
            k.alg,
            k.status,
            k.created_at,
            at(k.activated_at),
            at(k.delete_after)
        );
    }
}

async fn keys_command(
    svc: &Service,
    keys: &KeyStore,
    cmd: KeysCommand,
    now: i64,
    json: bool,
) -> Result<(), CliError> {
    let actor = Actor::cli();
    match cmd {
        KeysCommand::List => {
            let listed = svc.list_keys(keys);
            if json {
                print_json(&serde_json::to_value(&listed).unwrap_or_default());
            } else {
                print_keys(&listed);
            }
        }
        KeysCommand::Rotate { immediately } => {
            let outcome = svc.rotate_keys(&actor, keys, immediately).await?;
            if json {
                print_json(&serde_json::to_value(&outcome).unwrap_or_default());
            } else if outcome.switched {
                println!("key {} signs from now on", outcome.next_kid);
            } else {
                println!(
                    "key {} is published and starts signing at {} (in {} s), once JWKS caches have seen it",
                    outcome.next_kid,
                    outcome.signs_from,
                    outcome.signs_from - now
                );
            }
        }
        KeysCommand::Retire { kid } => {
            svc.retire_key(&actor, keys, &kid).await?;
            if json {
                print_json(&json!({ "retired": kid }));
            } else {
                println!("retired key {kid}");
            }
        }
        KeysCommand::Rewrap => {
            let changed = svc.rewrap_keys(&actor, keys).await?;
            if json {
                print_json(&json!({ "rewrapped": changed }));
            } else {
                println!("re-encrypted {changed} key(s) under the first master key");
            }
        }
    }
    Ok(())
}
