//! The public URL surface in one place (docs/architecture.md, convention 13); the admin API's table is
//! `crate::admin::routes`.

use actix_web::web;

use actix_web::middleware::from_fn;

use super::{
    account, cors, health, introspection, keys, logout, pages, rate_limit, registration,
    self_service, token, userinfo,
};

/// The public listener. Everything lives under the issuer's path (`issuer_path`, `""` when
/// the issuer has none), so a reverse proxy can forward exactly that prefix; the one
/// exception is RFC 8414 metadata, whose well-known suffix sits between host and path
/// (RFC 8414 §3.1).
pub fn public(cfg: &mut web::ServiceConfig, issuer_path: &str) {
    // Every public request passes one rate limit middleware, which picks its bucket by path
    // (`rate_limit::BUCKETS`): a route added here is limited without further wiring. Around
    // it, CORS (`cors::RULES`, the one table of what other origins may read): the headers
    // go on every answer, the limit's included, and a preflight is answered only once the
    // limit has counted it. The last `wrap` is the outermost.
    cfg.service(
        web::resource(format!(
            "/.well-known/oauth-authorization-server{issuer_path}"
        ))
        .wrap(from_fn(cors::answer_preflight))
        .wrap(from_fn(rate_limit::limit_by_endpoint))
        .wrap(from_fn(cors::cross_origin))
        .route(web::get().to(keys::discovery)),
    )
    .service(
        web::scope(issuer_path)
            .wrap(from_fn(cors::answer_preflight))
            .wrap(from_fn(rate_limit::limit_by_endpoint))
            .wrap(from_fn(cors::cross_origin))
            .configure(under_issuer),
    );
}

/// The public URL surface, relative to the issuer.
fn under_issuer(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live))
        .route("/jwks.json", web::get().to(keys::jwks))
        .route("/.well-known/jwks.json", web::get().to(keys::jwks))
        // OIDC Discovery 1.0 §4: appended to the issuer, path included.
        .route(
            "/.well-known/openid-configuration",
            web::get().to(keys::discovery),
        )
        .route("/authorize", web::get().to(pages::authorize_get))
        .route("/authorize", web::post().to(pages::authorize_post))
        .route("/login", web::get().to(pages::login_get))
        .route("/login", web::post().to(pages::login_post))
        .route("/login/factor", web::get().to(pages::factor_get))
        .route("/login/factor", web::post().to(pages::factor_post))
        .route("/login/enrol", web::get().to(pages::enrol_get))
        .route("/login/enrol", web::post().to(pages::enrol_post))
        .route("/login/passkey", web::post().to(pages::passkey_post))
        // The user's own pages (`oauth::flow::account`).
        .route("/account", web::get().to(account::profile))
        .route("/account/profile", web::get().to(account::profile_get))
        .route("/account/profile", web::post().to(account::profile_post))
        .route("/account/password", web::get().to(account::password_get))
        .route("/account/password", web::post().to(account::password_post))
        .route("/account/security", web::get().to(account::security_get))
        .route("/account/sessions", web::get().to(account::sessions_get))
        .route(
            "/account/sessions/end",
            web::post().to(account::session_end_post),
        )
        .route(
            "/account/sessions/end-others",
            web::post().to(account::sessions_end_others_post),
        )
        .route("/account/apps", web::get().to(account::apps_get))
        .route(
            "/account/apps/revoke",
            web::post().to(account::app_revoke_post),
        )
        .route("/account/security/totp", web::get().to(account::totp_get))
        .route("/account/security/totp", web::post().to(account::totp_post))
        .route(
            "/account/security/remove",
            web::post().to(account::remove_post),
        )
        .route(
            "/account/security/passkeys",
            web::post().to(account::passkey_post),
        )
        .route(
            "/account/security/passkeys/finish",
            web::post().to(account::passkey_finish_post),
        )
        .route(
            "/account/security/recovery",
            web::post().to(account::recovery_post),
        )
        // Without an operator (issue 22): a forgotten password, a link that proves an
        // address (or finishes a sign-up), and self sign-up (404 unless enabled).
        .route("/forgot-password", web::get().to(self_service::forgot_get))
        .route(
            "/forgot-password",
            web::post().to(self_service::forgot_post),
        )
        .route("/reset-password", web::get().to(self_service::reset_get))
        .route("/reset-password", web::post().to(self_service::reset_post))
        .route("/verify-email", web::get().to(self_service::verify_get))
        .route("/verify-email", web::post().to(self_service::verify_post))
        .route("/signup", web::get().to(self_service::signup_get))
        .route("/signup", web::post().to(self_service::signup_post))
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
        .route("/static/webauthn.js", web::get().to(pages::webauthn_script))
        // A resource, so another method answers 405 rather than 404.
        .service(web::resource("/token").route(web::post().to(token::token)))
        // Dynamic client registration (RFC 7591) and the client configuration endpoint
        // (RFC 7592): 404 while `registration.mode` is `closed`.
        .service(web::resource("/register").route(web::post().to(registration::register)))
        .service(
            web::resource("/register/{client_id}")
                .route(web::get().to(registration::read))
                .route(web::put().to(registration::update))
                .route(web::delete().to(registration::delete)),
        );
}

/// The admin listener's own endpoints; the admin API is wired next to them by
/// `crate::app` from `crate::admin::routes`.
pub fn admin(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live))
        .route("/health/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics));
}
