//! The configuration loader (`config::Config::load`): a TOML file plus `PORTCULLIS_*`
//! environment variables, layered and validated. Bad input is a `ConfigError`, never a
//! panic, and a loaded configuration always prints redacted.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::config::{Config, Sources};

fn config_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!(
            "portcullis-fuzz-config-{}.toml",
            std::process::id()
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    // The TOML file, then after a NUL byte one environment variable per line.
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (toml, env) = data.split_at(split);
    let Ok(env) = std::str::from_utf8(env.get(1..).unwrap_or_default()) else {
        return;
    };
    let env: Vec<(String, String)> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| {
            let name = if name.starts_with("PORTCULLIS_") || name == "DATABASE_URL" {
                name.to_owned()
            } else {
                format!("PORTCULLIS_{name}")
            };
            (name, value.to_owned())
        })
        // Secrets read from `*_FILE` paths are files the operator names: not fuzzed here.
        .filter(|(name, _)| !name.ends_with("_FILE"))
        .collect();
    std::fs::write(config_path(), toml).expect("temporary file");
    let sources = Sources {
        file: Some(config_path().clone()),
        env,
        overrides: Default::default(),
    };
    if let Ok(config) = Config::load(&sources) {
        let shown = config.redacted().to_string();
        assert!(!shown.is_empty());
    }
});
