use std::path::PathBuf;

use portcullis::config::{Config, ConfigError, LogFormat, Overrides, Sources};
use portcullis::store::{Backend, DatabaseUrl};

/// A syntactically valid master key: an https issuer needs one configured.
const MASTER: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain(std::iter::once((
            "PORTCULLIS_KEYS__MASTER_KEYS".to_owned(),
            MASTER.to_owned(),
        )))
        .collect()
}

fn write_toml(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("portcullis.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn err_text(result: Result<Config, ConfigError>) -> String {
    match result {
        Ok(_) => panic!("expected a configuration error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_without_any_source() {
    let c = Config::load(&Sources::default()).unwrap();
    assert_eq!(c.issuer.as_str(), "http://127.0.0.1:8080");
    assert_eq!(c.http_bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.admin_bind.to_string(), "127.0.0.1:9090");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(
        c.database.url,
        DatabaseUrl::Sqlite(PathBuf::from("./data/portcullis.db"))
    );
    assert!(c.database.migrate_on_start);
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.password.memory_kib, 19_456);
    assert_eq!(c.password.iterations, 2);
    assert_eq!(c.password.parallelism, 1);
    // SQLite writes one at a time: a small pool; Postgres overlaps round trips.
    assert_eq!(c.database.pool_size, 4);
    let pg = Config::load(&Sources {
        env: env(&[(
            "PORTCULLIS_DATABASE__URL",
            "postgres://u@db.internal/portcullis",
        )]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(pg.database.pool_size, 8);
    // No time-bounded memo unless an operator opts in; the coherent lease is on.
    assert!(c.tokens.introspection_cache.is_zero());
    assert_eq!(c.tokens.replica_lease.as_millis(), 500);
    // Workers poll briefly before sleeping unless turned off.
    assert_eq!(c.idle_poll.as_micros(), 100);
}

#[test]
fn precedence_is_defaults_file_env_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_toml(
        &dir,
        r#"
issuer = "https://file.example.com"
data_dir = "/var/lib/from-file"
[keys]
master_keys = ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
[http]
bind = "127.0.0.1:7001"
[admin]
bind = "127.0.0.1:7002"
[log]
format = "json"
level = "debug"
"#,
    );
    // File only.
    let c = Config::load(&Sources {
        file: Some(file.clone()),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.issuer.as_str(), "https://file.example.com");
    assert_eq!(c.http_bind.port(), 7001);
    assert_eq!(c.log_format, LogFormat::Json);
    // The default database follows data_dir.
    assert_eq!(
        c.database.url,
        DatabaseUrl::Sqlite(PathBuf::from("/var/lib/from-file/portcullis.db"))
    );

    // Env beats the file.
    let vars = env(&[
        ("PORTCULLIS_ISSUER", "https://env.example.com"),
        ("PORTCULLIS_HTTP__BIND", "127.0.0.1:7101"),
        ("PORTCULLIS_DATABASE__POOL_SIZE", "3"),
    ]);
    let c = Config::load(&Sources {
        file: Some(file.clone()),
        env: vars.clone(),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.issuer.as_str(), "https://env.example.com");
    assert_eq!(c.http_bind.port(), 7101);
    assert_eq!(
        c.admin_bind.port(),
        7002,
        "untouched keys keep the file's value"
    );
    assert_eq!(c.database.pool_size, 3);

    // Flags beat env.
    let c = Config::load(&Sources {
        file: Some(file),
        env: vars,
        overrides: Overrides {
            issuer: Some("https://flag.example.com".into()),
            log_format: Some(LogFormat::Text),
            ..Overrides::default()
        },
    })
    .unwrap();
    assert_eq!(c.issuer.as_str(), "https://flag.example.com");
    assert_eq!(c.http_bind.port(), 7101);
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn database_url_sources() {
    // DATABASE_URL is accepted ...
    let c = Config::load(&Sources {
        env: env(&[("DATABASE_URL", "postgres://u@db/one")]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.database.url.backend(), Backend::Postgres);
    // ... but the prefixed variable wins.
    let c = Config::load(&Sources {
        env: env(&[
            ("DATABASE_URL", "postgres://u@db/one"),
            ("PORTCULLIS_DATABASE__URL", "sqlite://x.db"),
        ]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.database.url, DatabaseUrl::Sqlite(PathBuf::from("x.db")));

    // A secret from a file.
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("db-url");
    std::fs::write(&secret, "postgres://app:pw@db/auth\n").unwrap();
    let c = Config::load(&Sources {
        env: env(&[("PORTCULLIS_DATABASE__URL_FILE", secret.to_str().unwrap())]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(
        c.database.url,
        DatabaseUrl::Postgres("postgres://app:pw@db/auth".into())
    );
    assert!(
        !c.redacted().to_string().contains(":pw@"),
        "password redacted"
    );
}

#[test]
fn bad_scheme_names_the_key_and_source() {
    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_DATABASE__URL", "mysql://u@db/x")]),
        ..Sources::default()
    }));
    assert!(text.contains("database.url"), "{text}");
    assert!(text.contains("PORTCULLIS_DATABASE__URL"), "{text}");
    assert!(text.contains("unsupported database URL scheme"), "{text}");

    let text = err_text(Config::load(&Sources {
        env: env(&[("DATABASE_URL", "redis://x")]),
        ..Sources::default()
    }));
    assert!(text.contains("DATABASE_URL"), "{text}");
}

#[test]
fn unknown_keys_are_refused_with_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_toml(&dir, "[http]\nbnid = \"127.0.0.1:1\"\n");
    let text = err_text(Config::load(&Sources {
        file: Some(file.clone()),
        ..Sources::default()
    }));
    assert!(text.contains("bnid"), "{text}");
    assert!(text.contains(&file.display().to_string()), "{text}");

    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_ISSUR", "https://x.example")]),
        ..Sources::default()
    }));
    assert!(text.contains("issur"), "{text}");
    assert!(text.contains("PORTCULLIS_ISSUR"), "{text}");
}

#[test]
fn malformed_toml_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_toml(&dir, "issuer = \"unterminated\n");
    let text = err_text(Config::load(&Sources {
        file: Some(file.clone()),
        ..Sources::default()
    }));
    assert!(text.contains("invalid TOML"), "{text}");
    assert!(text.contains(&file.display().to_string()), "{text}");

    let missing = dir.path().join("nope.toml");
    let text = err_text(Config::load(&Sources {
        file: Some(missing),
        ..Sources::default()
    }));
    assert!(text.contains("nope.toml"), "{text}");
}

#[test]
fn issuer_must_be_https_off_loopback() {
    let text = err_text(Config::load(&Sources {
        overrides: Overrides {
            issuer: Some("http://auth.example.com".into()),
            ..Overrides::default()
        },
        ..Sources::default()
    }));
    assert!(text.contains("`issuer`"), "{text}");
    assert!(text.contains("command-line flag"), "{text}");
    assert!(text.contains("https"), "{text}");
    for ok in [
        "http://localhost:8080",
        "http://127.0.0.2:1",
        "https://id.example.com",
    ] {
        let loaded = Config::load(&Sources {
            env: env(&[]),
            overrides: Overrides {
                issuer: Some(ok.into()),
                ..Overrides::default()
            },
            ..Sources::default()
        });
        assert!(loaded.is_ok(), "{ok}");
    }
}

#[test]
fn master_keys_are_required_off_loopback_and_validated() {
    let text = err_text(Config::load(&Sources {
        overrides: Overrides {
            issuer: Some("https://id.example.com".into()),
            ..Overrides::default()
        },
        ..Sources::default()
    }));
    assert!(text.contains("keys.master_keys"), "{text}");
    assert!(text.contains("required"), "{text}");

    // Several keys from one environment variable; a bad one is named without echoing it.
    let two = format!(
        "{MASTER}, {}",
        "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
    );
    let c = Config::load(&Sources {
        env: vec![("PORTCULLIS_KEYS__MASTER_KEYS".into(), two)],
        ..Sources::default()
    })
    .unwrap();
    match &c.keys.master_keys {
        portcullis::config::MasterKeySource::Configured(keys) => {
            assert_eq!(keys.fingerprints().len(), 2)
        }
        other => panic!("{other:?}"),
    }
    let text = err_text(Config::load(&Sources {
        env: vec![("PORTCULLIS_KEYS__MASTER_KEYS".into(), "c2hvcnQ=".into())],
        ..Sources::default()
    }));
    assert!(text.contains("master key #1"), "{text}");
    assert!(!text.contains("c2hvcnQ"), "{text}");
}

#[test]
fn wrong_types_and_ranges_are_refused() {
    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_DATABASE__POOL_SIZE", "lots")]),
        ..Sources::default()
    }));
    assert!(text.contains("PORTCULLIS_DATABASE__POOL_SIZE"), "{text}");

    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_HTTP__BIND", "not-an-address")]),
        ..Sources::default()
    }));
    assert!(text.contains("http.bind"), "{text}");
    assert!(text.contains("PORTCULLIS_HTTP__BIND"), "{text}");

    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_PASSWORD__MEMORY_KIB", "1024")]),
        ..Sources::default()
    }));
    assert!(text.contains("password.memory_kib"), "{text}");

    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_LOG__FORMAT", "xml")]),
        ..Sources::default()
    }));
    assert!(text.contains("xml"), "{text}");

    // Remembering standings is bounded: a revocation must take effect within a minute.
    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_TOKENS__INTROSPECTION_CACHE_MS", "60001")]),
        ..Sources::default()
    }));
    assert!(text.contains("tokens.introspection_cache_ms"), "{text}");
    let c = Config::load(&Sources {
        env: env(&[("PORTCULLIS_TOKENS__INTROSPECTION_CACHE_MS", "250")]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(c.tokens.introspection_cache.as_millis(), 250);

    // A lease is off or between 50 ms and 10 s: a silent replica holds revocations up
    // for as long as its lease.
    for bad in ["10", "10001"] {
        let text = err_text(Config::load(&Sources {
            env: env(&[("PORTCULLIS_TOKENS__REPLICA_LEASE_MS", bad)]),
            ..Sources::default()
        }));
        assert!(text.contains("tokens.replica_lease_ms"), "{bad}: {text}");
    }
    for good in ["0", "50", "10000"] {
        let c = Config::load(&Sources {
            env: env(&[("PORTCULLIS_TOKENS__REPLICA_LEASE_MS", good)]),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(c.tokens.replica_lease.as_millis().to_string(), good);
    }

    // Polling longer than a millisecond would only burn CPU.
    let text = err_text(Config::load(&Sources {
        env: env(&[("PORTCULLIS_HTTP__IDLE_POLL_US", "1001")]),
        ..Sources::default()
    }));
    assert!(text.contains("http.idle_poll_us"), "{text}");
    let c = Config::load(&Sources {
        env: env(&[("PORTCULLIS_HTTP__IDLE_POLL_US", "0")]),
        ..Sources::default()
    })
    .unwrap();
    assert!(c.idle_poll.is_zero());
}
