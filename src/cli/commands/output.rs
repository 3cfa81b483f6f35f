//! The one way a command prints its result. With `--json` the result is a JSON document
//! on stdout; otherwise the command's own text. A result that cannot be serialised is an
//! error (non-zero exit, message on stderr), never `null` or an empty line.

use serde::Serialize;

use super::CliError;

/// Text or JSON, as `--json` chose.
#[derive(Debug, Clone, Copy)]
pub(super) struct Output {
    json: bool,
}

impl Output {
    pub(super) fn new(json: bool) -> Self {
        Self { json }
    }

    pub(super) fn is_json(self) -> bool {
        self.json
    }

    /// Prints `value` as JSON, or hands it to `text` for the human form.
    pub(super) fn show<T: Serialize + ?Sized>(
        self,
        value: &T,
        text: impl FnOnce(&T),
    ) -> Result<(), CliError> {
        if self.json {
            print_json(value)
        } else {
            text(value);
            Ok(())
        }
    }
}

/// A result as a JSON value, for commands that add a field (a one-time secret) to it.
pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(value).map_err(unprintable)
}

/// Pretty JSON on stdout. Through `serde_json::Value`, so object keys come out sorted, as
/// they always have.
pub(super) fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(&to_json(value)?).map_err(unprintable)?;
    println!("{text}");
    Ok(())
}

fn unprintable(err: impl std::fmt::Display) -> CliError {
    CliError::Other(format!("cannot print the result: {err}"))
}

/// For output of the long-running `serve`: a closed stdout (a supervisor that stopped
/// reading) must not bring the server down, so write errors are ignored here.
pub(super) fn print_lossy(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ignored = writeln!(out, "{text}").and_then(|()| out.flush());
}
