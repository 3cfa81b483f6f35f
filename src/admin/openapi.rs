//! `/admin/openapi.json`: the document utoipa generates from the handlers, with each
//! operation's permission, security requirement and auth errors added from the route
//! table (so they are declared once, there).

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::{Value, json};

use super::auth::ADMIN_SCOPE;
use super::error::ErrorBody;
use super::table::AdminRoute;

fn annotate(doc: &mut Value, routes: &[AdminRoute], error_body: Value) {
    for route in routes {
        let method = route.method.as_str().to_ascii_lowercase();
        let Some(operation) = doc
            .pointer_mut(&format!("/paths/{}/{method}", escape_pointer(route.path)))
            .and_then(Value::as_object_mut)
        else {
            tracing::error!(
                path = route.path,
                "admin route missing from the OpenAPI document"
            );
            continue;
        };
        let permission = route.permission;
        let roles = permission.roles();
        let note = format!(
            "Requires the `{}` permission (roles: {}).",
            permission.as_str(),
            roles.join(", ")
        );
        let description = match operation.get("description").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
            Some(_) | None => note,
        };
        operation.insert("description".into(), json!(description));
        operation.insert("x-permission".into(), json!(permission.as_str()));
        operation.insert("x-roles".into(), json!(roles));
        operation.insert("security".into(), json!([{ "bearer": [ADMIN_SCOPE] }]));
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            responses.entry("401").or_insert_with(|| {
                json!({ "description": "No token, or an invalid, expired or revoked one (RFC 6750; see WWW-Authenticate)" })
            });
            responses.entry("403").or_insert_with(|| {
                json!({
                    "description": "The token lacks the admin scope, no role of the caller grants the permission, or the target holds (or the change would confer) rights the caller does not hold",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
                })
            });
        }
    }
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.insert(
            "securitySchemes".into(),
            json!({
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token (RFC 9068) from this server's /token endpoint with the `admin` scope"
                }
            }),
        );
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            schemas.entry("ErrorBody").or_insert(error_body);
        }
    }
}

/// RFC 6901: `~` and `/` inside a key.
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The document utoipa generated for `routes`, annotated from them. A part that does not
/// serialise is an error, not a `null` in it.
pub fn annotated(
    generated: utoipa::openapi::OpenApi,
    routes: &[AdminRoute],
) -> Result<Value, serde_json::Error> {
    let mut doc = serde_json::to_value(generated)?;
    let error_body = serde_json::to_value(<ErrorBody as utoipa::PartialSchema>::schema())?;
    annotate(&mut doc, routes, error_body);
    Ok(doc)
}

pub fn respond(document: Result<Value, serde_json::Error>) -> HttpResponse {
    match document {
        Ok(doc) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .json(doc),
        Err(err) => {
            tracing::error!(error = %err, "the OpenAPI document does not serialise");
            HttpResponse::InternalServerError().finish()
        }
    }
}
