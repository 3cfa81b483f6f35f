//! The public URL surface in one place (docs/architecture.md, convention 13); the admin API's table is
//! `crate::admin::routes`.

use actix_web::web;

use actix_web::middleware::from_fn;

use super::{health, introspection, keys, logout, pages, rate_limit, token, userinfo};

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
        .route("/select_account", web::get().to(pages::select_account_get))
        .route(
            "/select_account",
            web::post().to(pages::select_account_post),
        )
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

/// The admin listener's own endpoints; the admin API is wired next to them by
/// `crate::app` from `crate::admin::routes`.
pub fn admin(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live))
        .route("/health/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics));
}
