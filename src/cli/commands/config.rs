//! `config check`: the effective configuration, secrets redacted.

use serde_json::json;

use super::CliError;
use super::output::Output;
use crate::config::Config;

pub(super) fn check(config: &Config, out: Output) -> Result<(), CliError> {
    // The operator's templates and catalogues are part of the configuration: a page that
    // would not compile fails here, as it would stop `serve`.
    crate::ui::Ui::load(&config.ui).map_err(|e| CliError::Other(format!("ui: {e}")))?;
    let shown = config.redacted();
    if out.is_json() {
        return super::output::print_json(&json!({ "valid": true, "config": shown }));
    }
    let text = toml_text(shown)
        .map_err(|e| CliError::Other(format!("cannot print the configuration: {e}")))?;
    println!("configuration is valid");
    println!("{text}");
    Ok(())
}

/// TOML has no null: a setting that is not set is left out, as it would be in a file.
fn toml_text(mut shown: serde_json::Value) -> Result<String, toml::ser::Error> {
    fn drop_nulls(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(drop_nulls);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
            serde_json::Value::Null
            | serde_json::Value::Bool(_)
            | serde_json::Value::Number(_)
            | serde_json::Value::String(_) => {}
        }
    }
    drop_nulls(&mut shown);
    toml::to_string_pretty(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_are_left_out_of_the_toml() {
        let text = toml_text(json!({
            "issuer": "http://127.0.0.1:8080",
            "ui": { "logo_url": null, "product_name": "Portcullis" },
            "list": [{ "a": null, "b": 1 }],
        }))
        .unwrap();
        assert!(text.contains("product_name = \"Portcullis\""), "{text}");
        assert!(!text.contains("logo_url"), "{text}");
        assert!(text.contains("b = 1"), "{text}");
    }
}
