//! Row types and the queries over them. Nothing here validates input: the callers in
//! `crate::manage` do, so the CLI and the admin API share one set of rules.

pub mod audit;
pub mod clients;
pub mod users;
