//! The whole URL surface in one place (STYLE.md #13).

use actix_web::web;

use actix_web::middleware::from_fn;

use super::{health, introspection, keys, logout, pages, rate_limit, token, userinfo};
use crate::admin;

/// The public listener: protocol endpoints and pages (added by the issues that build them).
pub fn public(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live))
        .route("/jwks.json", web::get().to(keys::jwks))
        .route("/.well-known/jwks.json", web::get().to(keys::jwks))
        .route(
            "/.well-known/openid-configuration",
            web::get().to(keys::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(keys::discovery),
        )
        .route("/authorize", web::get().to(pages::authorize_get))
        .route("/authorize", web::post().to(pages::authorize_post))
        .route("/login", web::get().to(pages::login_get))
        .route("/login", web::post().to(pages::login_post))
        .route("/consent", web::get().to(pages::consent_get))
        .route("/consent", web::post().to(pages::consent_post))
        .route("/logout", web::get().to(logout::logout_get))
        .route("/logout", web::post().to(logout::logout_post))
        .route("/userinfo", web::get().to(userinfo::userinfo))
        .route("/userinfo", web::post().to(userinfo::userinfo))
        .route("/introspect", web::post().to(introspection::introspect))
        .route("/revoke", web::post().to(introspection::revoke))
        .route("/static/portcullis.css", web::get().to(pages::stylesheet))
        .service(
            web::resource("/token")
                .wrap(from_fn(rate_limit::limit_token_endpoint))
                .route(web::post().to(token::token)),
        );
}

/// The admin listener: never proxied to the internet.
pub fn admin(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live))
        .route("/health/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics))
        .route("/admin/openapi.json", web::get().to(admin::openapi::serve));
    admin_api(cfg);
}

admin::table::admin_route_table! {
    /// The admin API. Each line: method, path, the permission the caller needs (see
    /// `admin::rbac::Role::grants`), handler. A route exists only through this table, so
    /// none can be reached without its guard; tests walk `ADMIN_API`.
    pub fn admin_api, const ADMIN_API, struct AdminApiDoc {
        Get    "/admin/v1/clients"                          => ClientsRead,  admin::clients::list;
        Post   "/admin/v1/clients"                          => ClientsWrite, admin::clients::create;
        Get    "/admin/v1/clients/{client_id}"              => ClientsRead,  admin::clients::get;
        Patch  "/admin/v1/clients/{client_id}"              => ClientsWrite, admin::clients::update;
        Delete "/admin/v1/clients/{client_id}"              => ClientsWrite, admin::clients::delete;
        Post   "/admin/v1/clients/{client_id}/rotate-secret" => ClientsWrite, admin::clients::rotate_secret;

        Get    "/admin/v1/users"                            => UsersRead,    admin::users::list;
        Post   "/admin/v1/users"                            => UsersWrite,   admin::users::create;
        Get    "/admin/v1/users/{user}"                     => UsersRead,    admin::users::get;
        Patch  "/admin/v1/users/{user}"                     => UsersWrite,   admin::users::update;
        Delete "/admin/v1/users/{user}"                     => UsersWrite,   admin::users::delete;
        Post   "/admin/v1/users/{user}/disable"             => UsersWrite,   admin::users::disable;
        Post   "/admin/v1/users/{user}/enable"              => UsersWrite,   admin::users::enable;
        Post   "/admin/v1/users/{user}/password"            => UsersWrite,   admin::users::set_password;
        Put    "/admin/v1/users/{user}/roles/{role}"        => UsersWrite,   admin::users::add_role;
        Delete "/admin/v1/users/{user}/roles/{role}"        => UsersWrite,   admin::users::remove_role;
        Get    "/admin/v1/users/{user}/sessions"            => UsersRead,    admin::users::sessions;
        Delete "/admin/v1/users/{user}/sessions"            => UsersWrite,   admin::users::revoke_sessions;

        Get    "/admin/v1/keys"                             => KeysRead,     admin::keys::list;
        Post   "/admin/v1/keys/rotate"                      => KeysWrite,    admin::keys::rotate;
        Post   "/admin/v1/keys/rewrap"                      => KeysWrite,    admin::keys::rewrap;
        Post   "/admin/v1/keys/{kid}/retire"                => KeysWrite,    admin::keys::retire;

        Get    "/admin/v1/audit"                            => AuditRead,    admin::audit::query;
        Get    "/admin/v1/audit/verify"                     => AuditRead,    admin::audit::verify;
    }
}
