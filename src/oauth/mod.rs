//! Protocol logic: no actix and no diesel types here.

pub mod discovery;
pub mod redirect_uri;
pub mod scope;
