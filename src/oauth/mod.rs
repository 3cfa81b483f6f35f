//! Protocol logic: no actix and no diesel types here.

pub mod access_token;
pub mod authorize;
pub mod caller;
pub mod client;
pub mod client_auth;
pub mod clients;
pub mod context;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod form;
pub mod grants;
pub mod id_token;
pub mod introspection;
pub mod login;
pub mod logout;
pub mod redirect_uri;
pub mod registered_client;
pub mod revocation;
pub mod scope;
pub mod standing;
pub mod throttle;
pub mod token;
pub mod token_request;
pub mod userinfo;
