//! The first `admin`'s password, kept out of logs: an operator's file when one is given,
//! else generated and either shown on the terminal or written to a file only the service
//! account can read. A log pipeline (journald, a container runtime) keeps whatever reaches
//! a non-terminal standard output, so the password never goes there.

use std::io::Write as _;
use std::path::Path;

use serde_json::json;
use zeroize::Zeroizing;

use super::CliError;
use super::output::{Output, print_lossy};
use crate::app;
use crate::crypto::tokens::random_password;
use crate::manage::{self, users::validate_password};
use crate::private_files;

/// Where a generated password goes when standard output is not a terminal.
pub(super) const PASSWORD_FILE_NAME: &str = "bootstrap-admin-password";

/// The operator's password from `bootstrap_admin_password_file`: the file's text less one
/// trailing newline (what `echo` and most secret stores add), checked by the password
/// policy. Read at every start so a wrong setting fails loudly, not on the day it matters.
pub(super) fn read_supplied(
    path: &Path,
    policy: crate::accounts::new_password::Policy,
) -> Result<Zeroizing<String>, CliError> {
    let fail = |why: String| {
        CliError::Other(format!(
            "bootstrap_admin_password_file {}: {why}",
            path.display()
        ))
    };
    let mut text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?);
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    // The policy's message names the rule, never the password.
    // The account it is for is `app::BOOTSTRAP_ADMIN`.
    validate_password(&text, Some(app::BOOTSTRAP_ADMIN), policy)
        .map_err(|e| fail(e.to_string()))?;
    Ok(text)
}

/// Creates the first `admin` when the database has no user, with the supplied password or
/// a generated one handed over as the module comment says.
pub(super) async fn bootstrap(
    service: &manage::Service,
    data_dir: &Path,
    supplied: Option<Zeroizing<String>>,
    stdout_is_terminal: bool,
    out: Output,
) -> Result<(), CliError> {
    if let Some(password) = supplied {
        if let Some(created) = app::bootstrap_admin(service, Some(password)).await? {
            tracing::info!(
                username = %created.user.username,
                "first run: created the admin user with the password from bootstrap_admin_password_file"
            );
        }
        return Ok(());
    }
    if stdout_is_terminal {
        if let Some(created) = app::bootstrap_admin(service, None).await?
            && let Some(password) = created.generated_password.as_deref()
        {
            show_on_terminal(&created.user.username, password, out);
        }
        return Ok(());
    }
    if service.user_count().await? > 0 {
        return Ok(());
    }
    // The file is created before the user so a failure to write it (an old file in the
    // way, a read-only disk) stops the start while no admin with a lost password exists.
    let password = random_password();
    let path = data_dir.join(PASSWORD_FILE_NAME);
    write_private(&path, &password)?;
    match app::bootstrap_admin(service, Some(password)).await {
        Ok(Some(created)) => {
            tracing::warn!(
                username = %created.user.username,
                path = %path.display(),
                "first run: created the admin user; its password is in this file (readable \
                 by this account only): read it, then delete the file"
            );
            if out.is_json() {
                print_lossy(
                    &json!({
                        "bootstrap_admin": {
                            "username": created.user.username,
                            "password_file": path,
                        }
                    })
                    .to_string(),
                );
            }
            Ok(())
        }
        // Another replica bootstrapped first: this password belongs to nobody.
        Ok(None) => remove(&path),
        Err(e) => {
            remove(&path)?;
            Err(e.into())
        }
    }
}

/// Today's behaviour at a terminal: printed, never logged. `print_lossy`, not `Output`: a
/// closed stdout must not stop the server.
fn show_on_terminal(username: &str, password: &str, out: Output) {
    if out.is_json() {
        print_lossy(
            &json!({ "bootstrap_admin": { "username": username, "password": password } })
                .to_string(),
        );
    } else {
        print_lossy(&format!(
            "\n  First run: created user `{username}` with role `admin`.\n  Password (shown once): {password}\n  Change it with `portcullis user set-password {username} --password-stdin`.\n"
        ));
    }
}

/// Writes `secret` to a new file readable by this account only. The mode is set when the
/// file is created, so no other account can open it between creation and a later chmod;
/// an existing file is an error, never silently replaced (it may hold a password someone
/// has not read yet).
fn write_private(path: &Path, secret: &str) -> Result<(), CliError> {
    let fail = |why: String| CliError::Other(format!("{}: {why}", path.display()));
    if let Some(dir) = path.parent() {
        private_files::create_dir(dir).map_err(|e| fail(e.to_string()))?;
    }
    let mut file = private_files::create_new(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            fail(
                "already exists; it may hold an unread bootstrap password: read it, \
                 delete it, then start again"
                    .into(),
            )
        } else {
            fail(e.to_string())
        }
    })?;
    let written = file
        .write_all(secret.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A half-written file would block the next start with "already exists".
        remove(path)?;
        return Err(fail(e.to_string()));
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), CliError> {
    std::fs::remove_file(path).map_err(|e| CliError::Other(format!("{}: {e}", path.display())))
}
