//! `config check`: the effective configuration, secrets redacted.

use serde_json::json;

use super::CliError;
use super::output::Output;
use crate::config::Config;

pub(super) fn check(config: &Config, out: Output) -> Result<(), CliError> {
    let shown = config.redacted();
    if out.is_json() {
        return super::output::print_json(&json!({ "valid": true, "config": shown }));
    }
    let text = toml::to_string_pretty(&shown)
        .map_err(|e| CliError::Other(format!("cannot print the configuration: {e}")))?;
    println!("configuration is valid");
    println!("{text}");
    Ok(())
}
