//! Portcullis: an OAuth 2.1 / OpenID Connect authorization server.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crowding;
pub mod crypto;
pub mod encoding;
pub mod http;
pub mod janitor;
pub mod log_batch;
pub mod mail;
pub mod manage;
pub mod oauth;
pub mod outbound;
pub mod private_files;
pub mod store;
pub mod telemetry;
pub mod ui;
pub mod url_rules;
