//! Row types and the queries over them. Nothing here validates input: the callers in
//! `crate::manage` and `crate::crypto::keystore` do, so every entry point shares one set
//! of rules.

pub mod agreement;
pub mod audit;
pub mod authorization;
pub mod clients;
pub mod doctor;
pub mod factors;
pub mod grants;
pub mod janitor;
pub mod keys;
pub mod mail;
pub mod registration;
pub mod revocation;
pub mod throttle;
pub mod users;

/// A search term made literal inside a SQL `LIKE` pattern: `%`, `_` and `\` get a `\`
/// before them, so the query must say `.escape('\\')`.
pub(crate) fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
