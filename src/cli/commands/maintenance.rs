//! Commands that work on the database itself, below the services: `backup`, `migrate
//! status` and `migrate revert`. They open one connection, never the pool, apply no
//! migration and need no master key: a backup job or an operator rolling back before a
//! downgrade should not need the keys that unseal the signing keys.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::CliError;
use super::output::Output;
use crate::cli::MigrateCommand;
use crate::config::Config;
use crate::private_files;
use crate::store::conn::establish;
use crate::store::{Backend, DatabaseUrl, DbConnection, backup, migrate};

fn connect(config: &Config) -> Result<DbConnection, CliError> {
    establish(&config.database.url, config.database.connect_timeout).map_err(|e| {
        CliError::Other(format!(
            "cannot connect to the database ({}): {e}",
            config.database.url.redacted()
        ))
    })
}

pub(super) fn migrate(config: &Config, cmd: MigrateCommand, out: Output) -> Result<(), CliError> {
    match cmd {
        MigrateCommand::Status => {
            let states = migrate::status(&mut connect(config)?)
                .map_err(|e| CliError::Other(format!("cannot read the migrations: {e}")))?;
            let pending = states.iter().filter(|s| !s.applied).count();
            out.show(&json!({ "migrations": states, "pending": pending }), |_| {
                for s in &states {
                    println!(
                        "{:<8}  {}",
                        if s.applied { "applied" } else { "pending" },
                        s.name
                    );
                }
                println!("{pending} pending");
            })
        }
        MigrateCommand::Revert { yes } => {
            if !yes {
                return Err(CliError::Other(
                    "`migrate revert` runs the newest migration's down.sql, which drops what \
                     it added, data included; stop every server, take a backup, then run it \
                     again with --yes"
                        .into(),
                ));
            }
            let reverted = migrate::revert_last(&mut connect(config)?)
                .map_err(|e| CliError::Other(format!("the revert failed: {e}")))?;
            out.show(&json!({ "reverted": reverted }), |_| match &reverted {
                Some(version) => println!("reverted migration {version}"),
                None => println!("no migration is applied; nothing to revert"),
            })
        }
    }
}

pub(super) fn backup(config: &Config, to: &Path, force: bool, out: Output) -> Result<(), CliError> {
    let source = match &config.database.url {
        DatabaseUrl::Sqlite(path) => path.clone(),
        DatabaseUrl::Postgres(_) => {
            return Err(CliError::Other(backup::BackupError::Postgres.to_string()));
        }
    };
    debug_assert_eq!(config.database.url.backend(), Backend::Sqlite);
    // Opening a missing file would create an empty database and back that up.
    if !source.is_file() {
        return Err(CliError::Other(format!(
            "there is no database at {}",
            source.display()
        )));
    }
    if !force && to.exists() {
        return Err(CliError::Other(format!(
            "{} exists; choose a new file or pass --force to replace it",
            to.display()
        )));
    }
    let partial = partial_path(to)?;
    let made = create_private(&partial).and_then(|()| {
        backup::vacuum_into(&mut connect(config)?, &partial)
            .map_err(|e| CliError::Other(e.to_string()))?;
        sync(&partial)?;
        put_in_place(&partial, to, force)
    });
    if made.is_err() {
        let _gone = std::fs::remove_file(&partial);
    }
    made?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    out.show(
        &json!({ "backup": to, "bytes": bytes, "database": source }),
        |_| {
            println!(
                "copied {} to {} ({bytes} bytes)",
                source.display(),
                to.display()
            );
        },
    )
}

/// A hidden file beside the target, so the last step is a rename within one directory
/// and a reader never sees half a backup under the final name.
fn partial_path(to: &Path) -> Result<PathBuf, CliError> {
    let name = to
        .file_name()
        .ok_or_else(|| CliError::Other(format!("{} is not a file name", to.display())))?;
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(format!(".partial-{}", uuid::Uuid::new_v4().simple()));
    Ok(to.with_file_name(partial))
}

/// An empty file readable by this account only: the copy holds password hashes and the
/// sealed signing keys. SQLite's `VACUUM INTO` writes into an existing empty file.
fn create_private(path: &Path) -> Result<(), CliError> {
    private_files::create_new(path)
        .map(drop)
        .map_err(|e| CliError::Other(format!("{}: {e}", path.display())))
}

fn sync(path: &Path) -> Result<(), CliError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| CliError::Other(format!("{}: {e}", path.display())))
}

/// Without --force a hard link, which fails when the target appeared meanwhile, so an
/// existing file is never replaced; with it a rename, which replaces it atomically.
fn put_in_place(partial: &Path, to: &Path, force: bool) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Other(format!("{}: {e}", to.display()));
    if force {
        return std::fs::rename(partial, to).map_err(fail);
    }
    std::fs::hard_link(partial, to).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Other(format!(
                "{} exists; choose a new file or pass --force to replace it",
                to.display()
            ))
        } else {
            fail(e)
        }
    })?;
    std::fs::remove_file(partial)
        .map_err(|e| CliError::Other(format!("{}: {e}", partial.display())))
}
