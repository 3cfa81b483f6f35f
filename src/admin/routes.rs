//! The admin listener's API in one table (docs/architecture.md, convention 13): each route, the permission it
//! needs and its handler, read at once. `crate::app` wires it next to the listener's
//! health and metrics endpoints (`crate::http::routes::admin`).

use actix_web::{HttpResponse, web};
use utoipa::OpenApi as _;

use super::table::admin_route_table;
use super::{audit, clients, doctor, keys, openapi, users};

/// The admin API and its OpenAPI document.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/openapi.json", web::get().to(serve_openapi));
    admin_api(cfg);
}

/// The whole OpenAPI document.
pub fn openapi_document() -> Result<serde_json::Value, serde_json::Error> {
    openapi::annotated(AdminApiDoc::openapi(), ADMIN_API)
}

async fn serve_openapi() -> HttpResponse {
    openapi::respond(openapi_document())
}

admin_route_table! {
    /// The admin API. Each line: method, path, the permission the caller needs (see
    /// `super::rbac::Role::grants`), handler. A route exists only through this table, so
    /// none can be reached without its guard; tests walk `ADMIN_API`.
    pub fn admin_api, const ADMIN_API, struct AdminApiDoc {
        Get    "/admin/v1/clients"                          => ClientsRead,  clients::list;
        Post   "/admin/v1/clients"                          => ClientsWrite, clients::create;
        Get    "/admin/v1/clients/{client_id}"              => ClientsRead,  clients::get;
        Patch  "/admin/v1/clients/{client_id}"              => ClientsWrite, clients::update;
        Delete "/admin/v1/clients/{client_id}"              => ClientsWrite, clients::delete;
        Post   "/admin/v1/clients/{client_id}/rotate-secret" => ClientsWrite, clients::rotate_secret;
        Post   "/admin/v1/clients/{client_id}/promote"      => ClientsWrite, clients::promote;
        Post   "/admin/v1/registration-tokens"              => ClientsWrite, clients::create_registration_token;

        Get    "/admin/v1/users"                            => UsersRead,    users::list;
        Post   "/admin/v1/users"                            => UsersWrite,   users::create;
        Get    "/admin/v1/users/{user}"                     => UsersRead,    users::get;
        Patch  "/admin/v1/users/{user}"                     => UsersWrite,   users::update;
        Delete "/admin/v1/users/{user}"                     => UsersWrite,   users::delete;
        Post   "/admin/v1/users/{user}/disable"             => UsersWrite,   users::disable;
        Post   "/admin/v1/users/{user}/enable"              => UsersWrite,   users::enable;
        Post   "/admin/v1/users/{user}/password"            => UsersWrite,   users::set_password;
        Put    "/admin/v1/users/{user}/roles/{role}"        => UsersWrite,   users::add_role;
        Delete "/admin/v1/users/{user}/roles/{role}"        => UsersWrite,   users::remove_role;
        Get    "/admin/v1/users/{user}/sessions"            => UsersRead,    users::sessions;
        Delete "/admin/v1/users/{user}/sessions"            => UsersWrite,   users::revoke_sessions;
        Delete "/admin/v1/users/{user}/sessions/{session}"  => UsersWrite,   users::end_session;
        Get    "/admin/v1/users/{user}/grants"              => UsersRead,    users::grants;
        Get    "/admin/v1/users/{user}/factors"             => UsersRead,    users::factors;
        Delete "/admin/v1/users/{user}/factors"             => UsersWrite,   users::reset_factors;

        Get    "/admin/v1/keys"                             => KeysRead,     keys::list;
        Post   "/admin/v1/keys/rotate"                      => KeysWrite,    keys::rotate;
        Post   "/admin/v1/keys/rewrap"                      => KeysWrite,    keys::rewrap;
        Post   "/admin/v1/keys/{kid}/retire"                => KeysWrite,    keys::retire;

        Get    "/admin/v1/audit"                            => AuditRead,    audit::query;
        Get    "/admin/v1/audit/verify"                     => AuditRead,    audit::verify;

        Get    "/admin/v1/doctor"                           => DoctorRead,   doctor::report;
    }
}
