//! Where configuration comes from, lowest to highest: defaults, a TOML file,
//! `DATABASE_URL`, `PORTCULLIS_*` environment variables (`__` nests), command-line flags;
//! and secrets read from `*_FILE` paths.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;

use super::ConfigError;
use super::raw::{LogFormat, RawConfig};

/// Environment variables under the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "TEST_DATABASE_URL"];
const ENV_PREFIX: &str = "PORTCULLIS_";

/// Flags that override every other source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

/// Everything configuration is read from; `env` is passed in (not read here) so tests
/// can check precedence without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub overrides: Overrides,
}

impl Sources {
    pub fn from_process(file: Option<PathBuf>, overrides: Overrides) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            overrides,
        }
    }
}

/// `PORTCULLIS_A__B=v` as `a.b = v`, with errors naming the variable.
struct PrefixedEnv<'a>(&'a [(String, String)]);

impl Provider for PrefixedEnv<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_profile, keys| {
            format!("{ENV_PREFIX}{}", keys.join("__").to_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (name, raw) in self.0 {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if rest.is_empty() || NOT_KEYS.contains(&rest) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
            insert_nested(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn insert_nested(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            } else {
                let mut inner = Dict::new();
                insert_nested(&mut inner, rest, value);
                *entry = Value::from(inner);
            }
        }
    }
}

/// Flags, nested the same way as the file.
fn override_dict(o: &Overrides) -> Dict {
    let mut dict = Dict::new();
    let mut put = |path: &[&str], v: Option<Value>| {
        if let Some(v) = v {
            let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
            insert_nested(&mut dict, &path, v);
        }
    };
    put(&["issuer"], o.issuer.clone().map(Value::from));
    put(
        &["data_dir"],
        o.data_dir
            .as_ref()
            .map(|p| Value::from(p.to_string_lossy().into_owned())),
    );
    put(
        &["database", "url"],
        o.database_url.clone().map(Value::from),
    );
    put(&["http", "bind"], o.http_bind.clone().map(Value::from));
    put(&["admin", "bind"], o.admin_bind.clone().map(Value::from));
    put(
        &["log", "format"],
        o.log_format.map(|f| {
            Value::from(match f {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            })
        }),
    );
    put(&["log", "level"], o.log_level.clone().map(Value::from));
    dict
}

struct FlagProvider(Dict);

impl Provider for FlagProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flag")
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}
pub(super) fn figment(sources: &Sources) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
    if let Some(path) = &sources.file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // Parse here first so a syntax error names the file and line, not a key.
        if let Err(e) = text.parse::<toml::Table>() {
            return Err(ConfigError::File {
                path: path.clone(),
                reason: format!("invalid TOML: {}", e.message()),
            });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    if let Some((_, url)) = sources.env.iter().find(|(k, _)| k == "DATABASE_URL") {
        figment = figment.merge(DatabaseUrlEnv(url.clone()));
    }
    figment = figment.merge(PrefixedEnv(&sources.env));
    figment = figment.merge(FlagProvider(override_dict(&sources.overrides)));
    Ok(figment)
}

/// `DATABASE_URL`, the name most tools use, below the prefixed variables.
struct DatabaseUrlEnv(String);

impl Provider for DatabaseUrlEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable DATABASE_URL")
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        insert_nested(
            &mut dict,
            &["database".to_owned(), "url".to_owned()],
            Value::from(self.0.clone()),
        );
        Ok(Profile::Default.collect(dict))
    }
}

pub(super) fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(trimmed.to_owned())
}

/// Names where the value of `key` came from, for error messages.
pub(super) fn origin(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(meta) => {
            if let Some(figment::Source::File(path)) = &meta.source {
                return format!("file {}", path.display());
            }
            if meta.name == "environment variable" {
                let keys: Vec<&str> = key.split('.').collect();
                return format!(
                    "environment variable {}",
                    meta.interpolate(&Profile::Default, &keys)
                );
            }
            meta.name.to_string()
        }
        None => "defaults".into(),
    }
}

pub(super) fn invalid(
    figment: &Figment,
    key: &'static str,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key,
        origin: origin(figment, key),
        reason: reason.into(),
    }
}
