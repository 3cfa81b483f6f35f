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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_result_that_cannot_be_serialised_is_an_error_not_null() {
        // JSON object keys must be strings: this map cannot be printed as JSON.
        let unprintable: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
        let err = to_json(&unprintable).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot print the result"),
            "{err}"
        );
        assert!(print_json(&unprintable).is_err());
        assert!(Output::new(true).show(&unprintable, |_| {}).is_err());
        // Text mode does not serialise, so it prints the command's text.
        assert!(Output::new(false).show(&unprintable, |_| {}).is_ok());
    }

    #[test]
    fn json_keys_come_out_sorted_as_before() {
        #[derive(Serialize)]
        struct Shown {
            zeta: u8,
            alpha: u8,
        }
        let value = to_json(&Shown { zeta: 1, alpha: 2 }).unwrap();
        assert_eq!(value.to_string(), r#"{"alpha":2,"zeta":1}"#);
    }
}
