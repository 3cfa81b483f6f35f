//! Who acts on users and clients, as the manage layer sees it: the CLI or the server
//! itself, which hold every right, or an admin-API principal whose rights are judged by
//! the one rule in `crate::admin::rbac` (no escalation: a principal confers and acts on no
//! more than it holds). The rule is reached through `Authority` because the admin layer
//! sits above this one; the manage functions that write (`users.rs`, `clients.rs`) ask it
//! inside the transaction that locks the target, so no write path can skip it.

use std::sync::Arc;

use super::Actor;

/// The rights a user or client holds, as stored: its roles and, for a client, the scopes
/// it may be granted (users hold no scopes of their own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holding {
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
}

/// Judges one caller's rights against another principal's.
pub trait Authority: std::fmt::Debug + Send + Sync {
    /// Whether the caller may give a principal these rights (create it with them, or
    /// change it to hold them).
    fn may_confer(&self, to: &Holding) -> bool;
    /// Whether the caller may change, disable, delete or rotate the secret of a
    /// principal that holds these rights now.
    fn may_act_on(&self, target: &Holding) -> bool;
}

/// Who asks for a change.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The CLI or the server itself. Whoever runs them holds the database and the master
    /// key already, so no right is withheld from them.
    Everything(Actor),
    /// A principal of the admin API, with what it holds now.
    Principal {
        actor: Actor,
        authority: Arc<dyn Authority>,
    },
    /// A client registering itself or managing its own registration (RFC 7591, RFC 7592),
    /// after the registration policy bounded what it asks for. Checked again here, on
    /// the locked row: it confers and acts on nothing that holds a role or the `admin`
    /// scope.
    Registrant(Actor),
}

/// An authority that allows nothing: what an actor without stated rights gets.
#[derive(Debug)]
struct Nothing;

impl Authority for Nothing {
    fn may_confer(&self, _to: &Holding) -> bool {
        false
    }
    fn may_act_on(&self, _target: &Holding) -> bool {
        false
    }
}

impl Caller {
    pub fn cli() -> Self {
        Self::Everything(Actor::cli())
    }

    pub fn system() -> Self {
        Self::Everything(Actor::system())
    }

    pub fn principal(actor: Actor, authority: Arc<dyn Authority>) -> Self {
        Self::Principal { actor, authority }
    }

    /// The client `client_id` acting on its own registration.
    pub fn registrant(client_id: &str) -> Self {
        Self::Registrant(Actor::client(client_id))
    }

    pub fn actor(&self) -> &Actor {
        match self {
            Self::Everything(actor) | Self::Principal { actor, .. } | Self::Registrant(actor) => {
                actor
            }
        }
    }

    pub fn may_confer(&self, to: &Holding) -> bool {
        match self {
            Self::Everything(_) => true,
            Self::Principal { authority, .. } => authority.may_confer(to),
            Self::Registrant(_) => holds_nothing_privileged(to),
        }
    }

    pub fn may_act_on(&self, target: &Holding) -> bool {
        match self {
            Self::Everything(_) => true,
            Self::Principal { authority, .. } => authority.may_act_on(target),
            Self::Registrant(_) => holds_nothing_privileged(target),
        }
    }
}

impl Caller {
    /// Whom a client this caller creates belongs to, unless it says otherwise: the CLI's
    /// (and the server's own) are `cli`, an admin principal's `api`, a registrant's
    /// `registration`.
    pub fn origin(&self) -> crate::oauth::client::ClientOrigin {
        use crate::oauth::client::ClientOrigin;
        match self {
            Self::Everything(_) => ClientOrigin::Cli,
            Self::Principal { .. } => ClientOrigin::Api,
            Self::Registrant(_) => ClientOrigin::Registration,
        }
    }
}

/// What a self-registered client may hold: no role, and not the `admin` scope.
fn holds_nothing_privileged(holding: &Holding) -> bool {
    holding.roles.is_empty() && !holding.scopes.iter().any(|s| s == "admin")
}

/// The CLI and the server pass their `Actor` as it is. Any other actor passed without
/// its rights (an admin-API principal's, say) gets none, so a handler that forgot them
/// fails closed.
impl From<&Actor> for Caller {
    fn from(actor: &Actor) -> Self {
        // Typed: no user or client is ever the CLI or the server, whatever its name.
        match actor {
            Actor::Cli | Actor::System => Self::Everything(actor.clone()),
            Actor::User(_) | Actor::Client(_) => Self::principal(actor.clone(), Arc::new(Nothing)),
        }
    }
}

impl From<&Caller> for Caller {
    fn from(caller: &Caller) -> Self {
        caller.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cli_and_the_system_hold_every_right_by_their_actor() {
        let admin = Holding {
            roles: vec!["admin".into()],
            scopes: vec!["admin".into()],
        };
        for caller in [Caller::from(&Actor::cli()), Caller::from(&Actor::system())] {
            assert!(caller.may_confer(&admin) && caller.may_act_on(&admin));
        }
        for caller in [
            Caller::from(&Actor::user("u1")),
            Caller::from(&Actor::client("cli")),
        ] {
            assert!(!caller.may_confer(&Holding::default()));
            assert!(!caller.may_act_on(&Holding::default()));
        }
    }

    #[test]
    fn a_registrant_never_confers_or_touches_a_role_or_the_admin_scope() {
        let registrant = Caller::registrant("c1");
        assert_eq!(registrant.actor(), &Actor::client("c1"));
        let plain = Holding {
            roles: vec![],
            scopes: vec!["openid".into()],
        };
        assert!(registrant.may_confer(&plain) && registrant.may_act_on(&plain));
        for privileged in [
            Holding {
                roles: vec!["introspector".into()],
                scopes: vec![],
            },
            Holding {
                roles: vec![],
                scopes: vec!["openid".into(), "admin".into()],
            },
        ] {
            assert!(!registrant.may_confer(&privileged));
            assert!(!registrant.may_act_on(&privileged));
        }
    }
}
