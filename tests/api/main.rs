//! The one integration-test binary (docs/architecture.md, convention 10). Each test gets its own server on
//! port 0 and its own database: a fresh SQLite file, or a fresh Postgres database when
//! PORTCULLIS_TEST_DATABASE_URL is set.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::wildcard_enum_match_arm
)]

mod account;
mod account_sessions;
mod admin;
mod audit;
mod audit_volume;
mod authorize;
mod authorize_oidc;
mod backup;
mod bootstrap;
mod cli;
mod cli_reference;
mod client_addresses;
mod client_require_mfa;
mod config;
mod cors;
mod csrf_binding;
mod current_rights;
mod device_cookies;
mod docs;
mod doctor;
mod exact_redirect;
mod factor_admin;
mod front_door;
mod health;
mod helpers;
mod import_export;
mod introspect_any_token;
mod introspection;
mod issuer_path;
mod janitor;
mod keys;
mod layers;
mod logout_rp;
mod mail;
mod mcp;
mod metadata_documents;
mod metrics_reference;
mod migrations;
mod observability;
mod outage;
mod outbound;
mod passkeys;
mod password_policy;
mod pending_bounds;
mod rate_limits;
mod registration;
mod registration_lifecycle;
mod registration_management;
mod resource_server;
mod resources;
mod round_trips;
mod second_factor;
mod self_service;
mod sslmode;
mod throttle_atomic;
mod token;
mod users_clients;
