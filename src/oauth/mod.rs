//! Protocol logic: no actix and no diesel types here.

pub mod authorize;
pub mod client;
pub mod context;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod form;
pub mod grants;
pub mod id_token_hint;
pub mod introspection;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod pkce;
pub mod redirect_uri;
pub mod registration;
pub mod revocation;
pub mod scope;
pub mod standing;
pub mod throttle;
pub mod token;
pub mod userinfo;
