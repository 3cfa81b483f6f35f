//! The whole URL surface in one place (STYLE.md #13).

use actix_web::web;

use super::health;

/// The public listener: protocol endpoints and pages (added by the issues that build them).
pub fn public(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live));
}

/// The admin listener: never proxied to the internet.
pub fn admin(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(health::live))
        .route("/health/ready", web::get().to(health::ready))
        .route("/metrics", web::get().to(health::metrics));
}
