//! Protocol logic: no actix and no diesel types here.

pub mod access_token;
pub mod client;
pub mod client_auth;
pub mod clients;
pub mod context;
pub mod discovery;
pub mod error;
pub mod form;
pub mod grants;
pub mod login;
pub mod redirect_uri;
pub mod registered_client;
pub mod scope;
pub mod throttle;
pub mod token;
pub mod token_request;
