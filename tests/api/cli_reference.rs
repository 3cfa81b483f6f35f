//! The command line explains itself: help on every command, argument and flag (walked from
//! the clap tree the parser uses), completion scripts and manual pages generated from it,
//! and commands that need only the configuration never touching the database.

use std::process::Command;

use clap::CommandFactory as _;
use portcullis::cli::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Every command (the root, every subcommand at any depth, clap's own `help`) and every
/// argument of each, global ones included as each command sees them, with a missing or
/// blank help text; `path` names where.
fn missing_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    let has = |text: Option<&clap::builder::StyledStr>| {
        text.is_some_and(|t| !t.to_string().trim().is_empty())
    };
    if !has(cmd.get_about()) && !has(cmd.get_long_about()) {
        out.push(format!("command `{path}`"));
    }
    for arg in cmd.get_arguments() {
        if !has(arg.get_help()) && !has(arg.get_long_help()) {
            let name = arg
                .get_long()
                .map(|l| format!("--{l}"))
                .unwrap_or_else(|| arg.get_id().to_string());
            out.push(format!("`{path}` argument `{name}`"));
        }
    }
    for sub in cmd.get_subcommands() {
        missing_help(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_command_argument_and_flag_has_help() {
    let mut cmd = Cli::command();
    // Building propagates the global flags into every subcommand and adds clap's own
    // `help` subcommand and `--help`/`--version`, so they are walked as a user sees them.
    cmd.build();
    let mut missing = Vec::new();
    missing_help(&cmd, "portcullis", &mut missing);
    assert!(
        missing.is_empty(),
        "{} item(s) without help:\n{}",
        missing.len(),
        missing.join("\n")
    );
    // The walk really reached the leaves and the globals: a walk that saw nothing would pass.
    let user = cmd.find_subcommand("user").unwrap();
    let create = user.find_subcommand("create").unwrap();
    assert!(
        create
            .get_arguments()
            .any(|a| a.get_long() == Some("database-url"))
    );
    assert!(create.get_arguments().any(|a| a.get_id() == "username"));
}

#[test]
fn global_options_have_their_own_heading() {
    let out = Command::new(BIN)
        .env_clear()
        .args(["user", "create", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let (own, global) = help
        .split_once("Global options:")
        .unwrap_or_else(|| panic!("no `Global options:` heading:\n{help}"));
    // The command's own flags above the heading, the shared ones below it.
    assert!(own.contains("--password-stdin"), "{help}");
    assert!(!own.contains("--database-url"), "{help}");
    for flag in [
        "--config",
        "--json",
        "--database-url",
        "--issuer",
        "--log-level",
    ] {
        assert!(global.contains(flag), "{flag} under the heading:\n{help}");
    }
}

/// A configuration whose database cannot be opened: a SQLite file under a directory that
/// does not exist, or a Postgres server where none listens. `config check`, `completions`
/// and `man` still succeed, and nothing is created.
#[test]
fn configuration_only_commands_never_open_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("nowhere");
    let sqlite = format!("sqlite://{}", missing_dir.join("portcullis.db").display());
    for url in [
        sqlite.as_str(),
        "postgres://portcullis:secret@127.0.0.1:1/nothing",
    ] {
        for args in [
            &["config", "check"][..],
            &["--json", "config", "check"],
            &["completions", "bash"],
            &["completions", "zsh"],
            &["completions", "fish"],
            &["man"],
        ] {
            let out = Command::new(BIN)
                .env_clear()
                .current_dir(dir.path())
                .env("PORTCULLIS_DATABASE__URL", url)
                .env("PORTCULLIS_DATA_DIR", dir.path().join("data"))
                // Would make any connection attempt slow, not quick to fail and pass unseen.
                .env("PORTCULLIS_DATABASE__CONNECT_TIMEOUT_SECS", "30")
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?} with {url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
        }
    }
    // No database file, no directory for it, no data or keys directory.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "created {left:?}");
}

#[test]
fn completions_and_man_work_with_a_broken_configuration() {
    // Nothing but the clap tree is needed, so a wrong setting does not stop them.
    for args in [&["completions", "bash"][..], &["man"]] {
        let out = Command::new(BIN)
            .env_clear()
            .env("PORTCULLIS_HTTP__BIND", "nonsense")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn completion_scripts_know_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef portcullis"),
        ("fish", "complete -c portcullis"),
    ] {
        let out = Command::new(BIN)
            .env_clear()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in [
            "registration-token",
            "revoke-sessions",
            "backup",
            "database-url",
        ] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let out = Command::new(BIN)
        .env_clear()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown shell is refused");
}

#[test]
fn man_pages_are_roff_for_every_command() {
    let out = Command::new(BIN).env_clear().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH portcullis"),
        "{page}"
    );
    assert!(
        page.contains(".SH SUBCOMMANDS") || page.contains("SUBCOMMAND"),
        "{page}"
    );
    assert!(page.contains("backup"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .args(["man", "--dir"])
        .arg(dir.path().join("man1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "portcullis.1",
        "portcullis-user-create.1",
        "portcullis-client-registration-token-create.1",
        "portcullis-migrate-revert.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join("man1").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name}");
    }
    let create = std::fs::read_to_string(dir.path().join("man1/portcullis-user-create.1")).unwrap();
    assert!(create.contains("password\\-stdin"), "{create}");
}
