//! The metrics operators alert on (issue 23, item 5): every metric that
//! `deploy/prometheus/alerts.yml` and `deploy/grafana/portcullis.json` name exists on
//! `/metrics` of a running server after ordinary traffic, with the labels they select on;
//! the alert rules are well-formed; counters end in `_total`; and docs/metrics.md lists
//! every metric the server exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::helpers::{TestApp, eventually, spawn_app};

/// One sample line of the text format: its name and labels.
fn samples(text: &str) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, _value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Label values here never hold `",` (routes, results, tables…).
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            map.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
        out.entry(name.to_owned()).or_default().push(map);
    }
    out
}

/// A metric selector in a PromQL expression: the name, and its label matchers as
/// (label, operator, value).
#[derive(Debug)]
struct Selector {
    name: String,
    matchers: Vec<(String, String, String)>,
}

/// Every `portcullis_*` and `process_*` selector in `expr`.
fn selectors(expr: &str) -> Vec<Selector> {
    let bytes = expr.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &expr[i..];
        if at_word_start && (rest.starts_with("portcullis_") || rest.starts_with("process_")) {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = rest[..len].to_owned();
            i += len;
            let mut matchers = Vec::new();
            if expr[i..].starts_with('{') {
                let close = expr[i..].find('}').map_or(expr.len(), |c| c + i);
                for m in expr[i + 1..close.min(expr.len())]
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                {
                    // A bare name (a label list in prose) selects nothing.
                    let Some(op) = ["=~", "!~", "!=", "="]
                        .into_iter()
                        .find(|op| m.contains(op))
                    else {
                        continue;
                    };
                    let (label, value) = m.split_once(op).unwrap();
                    matchers.push((
                        label.trim().to_owned(),
                        op.to_owned(),
                        value.trim().trim_matches('"').to_owned(),
                    ));
                }
                i = close.saturating_add(1);
            }
            found.push(Selector { name, matchers });
        } else {
            i += 1;
        }
    }
    found
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The alert rules' expressions, after checking each rule's shape.
fn alert_expressions() -> Vec<(String, String)> {
    let rules: serde_norway::Value =
        serde_norway::from_str(&repo_file("deploy/prometheus/alerts.yml"))
            .expect("alerts.yml is YAML");
    let groups = rules["groups"].as_sequence().expect("groups");
    assert!(!groups.is_empty());
    let mut exprs = Vec::new();
    let mut names = BTreeSet::new();
    for group in groups {
        assert!(group["name"].as_str().is_some_and(|n| !n.is_empty()));
        for rule in group["rules"].as_sequence().expect("rules") {
            let alert = rule["alert"]
                .as_str()
                .expect("every rule is an alert")
                .to_owned();
            assert!(names.insert(alert.clone()), "{alert} twice");
            let expr = rule["expr"].as_str().expect("expr").trim().to_owned();
            assert!(!expr.is_empty(), "{alert}");
            // Brackets balance (a cheap stand-in for promtool, which CI does not have).
            for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
                assert_eq!(
                    expr.matches(open).count(),
                    expr.matches(close).count(),
                    "{alert}: unbalanced {open}{close}"
                );
            }
            if let Some(wait) = rule.get("for") {
                let wait = wait.as_str().expect("`for` is a duration");
                let (n, unit) = wait.split_at(wait.len() - 1);
                assert!(
                    n.parse::<u32>().is_ok() && ["s", "m", "h"].contains(&unit),
                    "{alert}: for {wait}"
                );
            }
            let severity = rule["labels"]["severity"].as_str().expect("severity");
            assert!(["warning", "critical"].contains(&severity), "{alert}");
            assert!(
                rule["annotations"]["summary"].as_str().is_some(),
                "{alert} has a summary"
            );
            exprs.push((alert, expr));
        }
    }
    exprs
}

/// Every `expr` in the dashboard, with its panel's title.
fn dashboard_expressions() -> Vec<(String, String)> {
    let dashboard: Value =
        serde_json::from_str(&repo_file("deploy/grafana/portcullis.json")).expect("JSON");
    assert_eq!(dashboard["uid"], "portcullis");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push((title.clone(), target["expr"].as_str().unwrap().to_owned()));
        }
    }
    assert!(exprs.len() > 20, "{} queries", exprs.len());
    exprs
}

/// Traffic that makes every labelled series the alerts and dashboard use: logins that
/// succeed and fail, tokens, an introspection, a 404, readiness, the janitor's first run.
async fn with_traffic() -> (TestApp, String) {
    let app = spawn_app().await;
    let client = app
        .confidential_client("app")
        .grants(&["password", "client_credentials"])
        .scope("api:read")
        .roles(&["introspector"])
        .await;
    let user = app.user("alice").await;
    let tokens = app.password_tokens(&client, &user, None).await;
    let (status, _) = app
        .token_request(
            &client,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let token = crate::helpers::access_token(&tokens);
    let (id, secret) = client.basic();
    let introspected = app
        .http
        .post(format!("{}/introspect", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), 200);
    let _ = app
        .http
        .get(format!("{}/nope", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(app.get_admin("/health/ready").await.status(), 200);
    let text = eventually("the janitor's first run", || async {
        let text = app.get_admin("/metrics").await.text().await.unwrap();
        text.contains("portcullis_janitor_runs_total{outcome=\"purged\"} 1")
            .then_some(text)
    })
    .await;
    (app, text)
}

#[tokio::test]
async fn every_metric_the_alerts_and_dashboard_name_is_exported() {
    let (_app, text) = with_traffic().await;
    let exported = samples(&text);
    let mut checked = 0;
    for (place, expr) in alert_expressions()
        .into_iter()
        .chain(dashboard_expressions())
    {
        let found = selectors(&expr);
        assert!(!found.is_empty(), "{place}: names no metric: {expr}");
        for selector in found {
            let series = exported.get(&selector.name).unwrap_or_else(|| {
                panic!("{place}: {} is not on /metrics:\n{text}", selector.name)
            });
            for (label, op, value) in &selector.matchers {
                // Prometheus adds these when it scrapes; Grafana fills `$variables`.
                if ["job", "instance"].contains(&label.as_str()) || value.contains('$') {
                    continue;
                }
                assert!(
                    series.iter().any(|s| match op.as_str() {
                        "=" => s.get(label) == Some(value),
                        _ => s.contains_key(label),
                    }),
                    "{place}: no series of {} has {label}{op}\"{value}\"",
                    selector.name
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked} selectors checked");
}

#[tokio::test]
async fn counters_end_in_total_and_the_build_is_named() {
    let (app, text) = with_traffic().await;
    let mut counters = 0;
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut words = line.split_whitespace().skip(2);
        let (name, kind) = (words.next().unwrap(), words.next().unwrap());
        if kind == "counter" {
            assert!(name.ends_with("_total"), "counter {name} without _total");
            counters += 1;
        }
    }
    assert!(counters >= 12, "{counters} counters");
    assert!(
        !text.contains("portcullis_password_overload_rejections "),
        "old name gone"
    );

    let exported = samples(&text);
    let build = &exported["portcullis_build_info"][0];
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    let commit = &build["commit"];
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert!(
        text.contains("portcullis_logins_total{result=\"success\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("portcullis_logins_total{result=\"failure\"} 1"),
        "{text}"
    );
    let verified = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("portcullis_password_hash_duration_seconds_count{operation=\"verify\"} ")
        })
        .unwrap_or_else(|| panic!("no verify timings:\n{text}"));
    assert!(verified.parse::<u64>().unwrap() >= 2, "{verified}");
    let pool = &exported["portcullis_db_pool_connections"];
    assert!(pool.iter().any(|s| s["state"] == "in_use"));
    assert!(pool.iter().any(|s| s["state"] == "idle"));
    assert!(
        text.contains(&format!(
            "portcullis_db_pool_max_connections {}",
            app.state.config.database.pool_size
        )),
        "{text}"
    );
    assert!(text.contains("portcullis_ready 1"), "{text}");
    assert!(
        text.contains("portcullis_audit_append_failures_total 0"),
        "{text}"
    );
    assert!(
        exported.contains_key("process_resident_memory_bytes"),
        "{text}"
    );
    assert!(exported.contains_key("process_cpu_seconds_total"), "{text}");
}

/// docs/metrics.md documents every metric the server exports, and names no metric it
/// does not.
#[tokio::test]
async fn the_metrics_reference_lists_every_metric() {
    let (_app, text) = with_traffic().await;
    let families: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    let doc = repo_file("docs/metrics.md");
    let documented: BTreeSet<String> = selectors(&doc)
        .into_iter()
        .map(|s| s.name)
        // `process_*` and `portcullis_` in prose name no metric.
        .filter(|n| !n.ends_with('_'))
        .map(|n| {
            ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| n.strip_suffix(suffix))
                .map_or(n.clone(), str::to_owned)
        })
        .collect();
    for family in &families {
        assert!(
            documented.contains(family),
            "docs/metrics.md does not describe {family}"
        );
    }
    // Names the doc keeps for history (renamed metrics) are marked as such.
    for name in documented.difference(&families) {
        let line = doc
            .lines()
            .find(|l| l.contains(&format!("`{name}`")))
            .unwrap_or_default();
        assert!(
            line.contains("renamed") || line.contains("removed"),
            "docs/metrics.md names {name}, which /metrics does not have: {line}"
        );
    }
}
