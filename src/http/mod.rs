//! actix only: the route table, thin handlers and response helpers.

pub mod errors;
pub mod health;
pub mod keys;
pub mod routes;
