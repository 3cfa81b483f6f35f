//! actix only: the route table, thin handlers and response helpers.

pub mod account;
pub mod bearer;
pub mod client_ip;
pub mod context;
pub mod cors;
pub mod errors;
pub mod form_post;
pub mod health;
pub mod hsts;
pub mod idle_poll;
pub mod introspection;
pub mod ip_limiter;
pub mod keys;
pub mod logout;
pub mod mail_out;
pub mod pages;
pub mod rate_limit;
pub mod registration;
pub mod routes;
pub mod self_service;
pub mod state;
pub mod token;
pub mod userinfo;
