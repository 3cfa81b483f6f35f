//! Row types and the queries over them. Nothing here validates input: the callers in
//! `crate::manage` and `crate::crypto::keystore` do, so every entry point shares one set
//! of rules.

pub mod agreement;
pub mod audit;
pub mod authorization;
pub mod clients;
pub mod grants;
pub mod janitor;
pub mod keys;
pub mod revocation;
pub mod throttle;
pub mod users;
