//! The OpenAPI document describes exactly the routed admin surface, and every CLI
//! command that manages something has its API route (and the reverse).

use std::collections::BTreeSet;

use clap::CommandFactory;
use portcullis::admin::routes::ADMIN_API;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = spawn_app().await;
    let r = app.get_admin("/admin/openapi.json").await;
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    // It is a well-formed OpenAPI document as utoipa's own model reads it.
    let _: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();

    let mut listed = Vec::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_ascii_uppercase()));
            assert!(operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()));
            let route = ADMIN_API
                .iter()
                .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            assert_eq!(op["x-permission"], route.permission.as_str());
            assert_eq!(op["security"], json!([{ "bearer": ["admin"] }]));
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("401") && responses.contains_key("403"));
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}"
            );
            // Every `{param}` of the path is a declared path parameter.
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
        }
    }
    listed.sort();
    // Snapshot of the surface: a new route must be added here on purpose.
    let expected = [
        "DELETE /admin/v1/clients/{client_id}",
        "DELETE /admin/v1/users/{user}",
        "DELETE /admin/v1/users/{user}/factors",
        "DELETE /admin/v1/users/{user}/roles/{role}",
        "DELETE /admin/v1/users/{user}/sessions",
        "GET /admin/v1/audit",
        "GET /admin/v1/audit/verify",
        "GET /admin/v1/clients",
        "GET /admin/v1/clients/{client_id}",
        "GET /admin/v1/keys",
        "GET /admin/v1/users",
        "GET /admin/v1/users/{user}",
        "GET /admin/v1/users/{user}/factors",
        "GET /admin/v1/users/{user}/sessions",
        "PATCH /admin/v1/clients/{client_id}",
        "PATCH /admin/v1/users/{user}",
        "POST /admin/v1/clients",
        "POST /admin/v1/clients/{client_id}/promote",
        "POST /admin/v1/clients/{client_id}/rotate-secret",
        "POST /admin/v1/keys/rewrap",
        "POST /admin/v1/keys/rotate",
        "POST /admin/v1/keys/{kid}/retire",
        "POST /admin/v1/registration-tokens",
        "POST /admin/v1/users",
        "POST /admin/v1/users/{user}/disable",
        "POST /admin/v1/users/{user}/enable",
        "POST /admin/v1/users/{user}/password",
        "PUT /admin/v1/users/{user}/roles/{role}",
    ];
    assert_eq!(listed, expected);
    let mut routed: Vec<String> = ADMIN_API
        .iter()
        .map(|r| format!("{} {}", r.method.as_str(), r.path))
        .collect();
    routed.sort();
    assert_eq!(routed, listed, "route table and OpenAPI document differ");

    // Every $ref points at a schema the document defines.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    for field in [
        "client_id",
        "client_name",
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "scope",
        "token_endpoint_auth_method",
    ] {
        assert!(
            schemas["ClientCreate"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every CLI command that manages something has an API route, and every API route has a
/// CLI command: the two lists below must stay in step with `portcullis --help`.
#[test]
fn cli_and_api_offer_the_same_capabilities() {
    let pairs: &[(&str, &str)] = &[
        ("client create", "POST /admin/v1/clients"),
        ("client list", "GET /admin/v1/clients"),
        ("client show", "GET /admin/v1/clients/{client_id}"),
        ("client update", "PATCH /admin/v1/clients/{client_id}"),
        ("client delete", "DELETE /admin/v1/clients/{client_id}"),
        (
            "client rotate-secret",
            "POST /admin/v1/clients/{client_id}/rotate-secret",
        ),
        (
            "client promote",
            "POST /admin/v1/clients/{client_id}/promote",
        ),
        (
            "client registration-token create",
            "POST /admin/v1/registration-tokens",
        ),
        ("user create", "POST /admin/v1/users"),
        ("user list", "GET /admin/v1/users"),
        ("user show", "GET /admin/v1/users/{user}"),
        ("user update", "PATCH /admin/v1/users/{user}"),
        ("user delete", "DELETE /admin/v1/users/{user}"),
        ("user disable", "POST /admin/v1/users/{user}/disable"),
        ("user enable", "POST /admin/v1/users/{user}/enable"),
        ("user set-password", "POST /admin/v1/users/{user}/password"),
        ("user add-role", "PUT /admin/v1/users/{user}/roles/{role}"),
        (
            "user remove-role",
            "DELETE /admin/v1/users/{user}/roles/{role}",
        ),
        ("user sessions", "GET /admin/v1/users/{user}/sessions"),
        (
            "user revoke-sessions",
            "DELETE /admin/v1/users/{user}/sessions",
        ),
        ("user factors", "GET /admin/v1/users/{user}/factors"),
        (
            "user reset-factors",
            "DELETE /admin/v1/users/{user}/factors",
        ),
        ("keys list", "GET /admin/v1/keys"),
        ("keys rotate", "POST /admin/v1/keys/rotate"),
        ("keys retire", "POST /admin/v1/keys/{kid}/retire"),
        ("keys rewrap", "POST /admin/v1/keys/rewrap"),
        ("audit query", "GET /admin/v1/audit"),
        ("audit verify", "GET /admin/v1/audit/verify"),
    ];
    // Operating the process or its files, not managing objects (or handing out a
    // secret made on the host): CLI only by design.
    let cli_only = [
        "serve",
        "migrate",
        "healthcheck",
        "config check",
        "export",
        "import",
        // Prints a new TOTP secret: provisioning on the server host, like the master keys
        // it seals with; an API route would send the secret over the network.
        "user enroll-totp",
        // Prints a new master key: it must never exist anywhere but the operator's host
        // and secret store, and it needs neither configuration nor a database.
        "keys generate-master-key",
    ];
    let mut leaves = Vec::new();
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push(prefix.trim().to_owned());
        }
        for sub in subs {
            walk(sub, &format!("{prefix} {}", sub.get_name()), out);
        }
    }
    walk(&portcullis::cli::Cli::command(), "", &mut leaves);
    let mut expected: Vec<String> = pairs
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(cli_only.iter().map(|c| c.to_string()))
        .collect();
    leaves.sort();
    expected.sort();
    assert_eq!(
        leaves, expected,
        "a CLI command without its API route (or the reverse)"
    );
    let mut routes: Vec<String> = ADMIN_API
        .iter()
        .map(|r| format!("{} {}", r.method.as_str(), r.path))
        .collect();
    let mut paired: Vec<String> = pairs.iter().map(|(_, r)| r.to_string()).collect();
    routes.sort();
    paired.sort();
    assert_eq!(routes, paired, "an API route without its CLI command");
}
