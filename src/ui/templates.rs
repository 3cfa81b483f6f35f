//! The page and mail templates: the built-in ones, compiled into the binary, then any of
//! an operator's `ui.templates_dir` by the same relative name, which replace them or add
//! new ones (a page can `{% include %}` an operator's partial).

use std::path::{Path, PathBuf};

use super::UiError;

/// Every built-in template by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("account.html", include_str!("../../templates/account.html")),
    (
        "account_apps.html",
        include_str!("../../templates/account_apps.html"),
    ),
    (
        "account_passkey.html",
        include_str!("../../templates/account_passkey.html"),
    ),
    (
        "account_password.html",
        include_str!("../../templates/account_password.html"),
    ),
    (
        "account_profile.html",
        include_str!("../../templates/account_profile.html"),
    ),
    (
        "account_remove.html",
        include_str!("../../templates/account_remove.html"),
    ),
    (
        "account_security.html",
        include_str!("../../templates/account_security.html"),
    ),
    (
        "account_sessions.html",
        include_str!("../../templates/account_sessions.html"),
    ),
    (
        "account_totp.html",
        include_str!("../../templates/account_totp.html"),
    ),
    ("base.html", include_str!("../../templates/base.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("enrol.html", include_str!("../../templates/enrol.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "forgot_password.html",
        include_str!("../../templates/forgot_password.html"),
    ),
    ("login.html", include_str!("../../templates/login.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "logout_confirm.html",
        include_str!("../../templates/logout_confirm.html"),
    ),
    ("notice.html", include_str!("../../templates/notice.html")),
    (
        "reset_password.html",
        include_str!("../../templates/reset_password.html"),
    ),
    (
        "second_factor.html",
        include_str!("../../templates/second_factor.html"),
    ),
    (
        "select_account.html",
        include_str!("../../templates/select_account.html"),
    ),
    (
        "self_service_notice.html",
        include_str!("../../templates/self_service_notice.html"),
    ),
    ("signup.html", include_str!("../../templates/signup.html")),
    (
        "verify_email.html",
        include_str!("../../templates/verify_email.html"),
    ),
    (
        "mail/account_changed.html",
        include_str!("../../templates/mail/account_changed.html"),
    ),
    (
        "mail/account_changed.txt",
        include_str!("../../templates/mail/account_changed.txt"),
    ),
    (
        "mail/email_changing.html",
        include_str!("../../templates/mail/email_changing.html"),
    ),
    (
        "mail/email_changing.txt",
        include_str!("../../templates/mail/email_changing.txt"),
    ),
    (
        "mail/password_changed.html",
        include_str!("../../templates/mail/password_changed.html"),
    ),
    (
        "mail/password_changed.txt",
        include_str!("../../templates/mail/password_changed.txt"),
    ),
    (
        "mail/password_reset.html",
        include_str!("../../templates/mail/password_reset.html"),
    ),
    (
        "mail/password_reset.txt",
        include_str!("../../templates/mail/password_reset.txt"),
    ),
    (
        "mail/signup_exists.html",
        include_str!("../../templates/mail/signup_exists.html"),
    ),
    (
        "mail/signup_exists.txt",
        include_str!("../../templates/mail/signup_exists.txt"),
    ),
    (
        "mail/signup_taken.html",
        include_str!("../../templates/mail/signup_taken.html"),
    ),
    (
        "mail/signup_taken.txt",
        include_str!("../../templates/mail/signup_taken.txt"),
    ),
    (
        "mail/signup_verify.html",
        include_str!("../../templates/mail/signup_verify.html"),
    ),
    (
        "mail/signup_verify.txt",
        include_str!("../../templates/mail/signup_verify.txt"),
    ),
    (
        "mail/verify_email.html",
        include_str!("../../templates/mail/verify_email.html"),
    ),
    (
        "mail/verify_email.txt",
        include_str!("../../templates/mail/verify_email.txt"),
    ),
];

/// An operator's templates: every file under `dir`, by its path relative to it with `/`.
pub fn operator_templates(dir: &Path) -> Result<Vec<(String, String)>, UiError> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path).map_err(|e| UiError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok((name, text))
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), UiError> {
    let entries = std::fs::read_dir(dir).map_err(|e| UiError::Read {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        // Hidden files are an editor's or a mount's, not templates.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
