//! Protocol logic: no actix and no diesel types here.

pub mod client;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod form;
pub mod redirect_uri;
pub mod registered_client;
pub mod scope;
pub mod throttle;
pub mod token_request;
