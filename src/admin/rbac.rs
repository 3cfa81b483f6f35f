//! Role-based access control: every admin route requires one permission (declared next
//! to the route in `super::routes`), and a role grants a fixed set of permissions.
//! Deny by default: a request passes only when the route's guard (`super::guard`) ran and
//! one of the caller's roles grants the permission; a handler cannot even learn who called
//! without the guard (see `super::auth::Principal`).
//!
//! Past the guard, the one rule against escalation (`Rights`): a principal confers and acts
//! on no more than it holds. The manage layer asks it for every write to a user or client
//! (`crate::manage::authority`), inside the transaction that locks the target.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::manage::authority::{Authority, Holding};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Permission {
    ClientsRead,
    ClientsWrite,
    UsersRead,
    UsersWrite,
    KeysRead,
    KeysWrite,
    AuditRead,
    /// The deployment's safety report (`/admin/v1/doctor`): read-only, like the audit
    /// log, and for the same readers.
    DoctorRead,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Self::ClientsRead,
        Self::ClientsWrite,
        Self::UsersRead,
        Self::UsersWrite,
        Self::KeysRead,
        Self::KeysWrite,
        Self::AuditRead,
        Self::DoctorRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientsRead => "clients:read",
            Self::ClientsWrite => "clients:write",
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::KeysRead => "keys:read",
            Self::KeysWrite => "keys:write",
            Self::AuditRead => "audit:read",
            Self::DoctorRead => "doctor:read",
        }
    }

    /// The roles that grant this permission, for documentation and error messages.
    pub fn roles(self) -> Vec<&'static str> {
        Role::ALL
            .iter()
            .filter(|r| r.grants(self))
            .map(|r| r.as_str())
            .collect()
    }
}

/// The roles the admin API knows. Other role names may exist (applications use them)
/// and grant nothing here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// Clients and keys; read users.
    Operator,
    /// Read-only: lists, audit query and verify, the doctor's report.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Self::Admin, Self::Operator, Self::Auditor];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Self::Admin),
            "operator" => Some(Self::Operator),
            "auditor" => Some(Self::Auditor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Auditor => "auditor",
        }
    }

    /// Exhaustive on both sides: a new permission or role does not compile until
    /// someone decides who gets it.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Self::Admin => true,
            Self::Operator => match permission {
                P::ClientsRead | P::ClientsWrite | P::KeysRead | P::KeysWrite | P::UsersRead => {
                    true
                }
                P::UsersWrite | P::AuditRead | P::DoctorRead => false,
            },
            Self::Auditor => match permission {
                P::ClientsRead | P::UsersRead | P::KeysRead | P::AuditRead | P::DoctorRead => true,
                P::ClientsWrite | P::UsersWrite | P::KeysWrite => false,
            },
        }
    }
}

/// What a principal holds, in the terms the rule compares: the admin-API permissions its
/// roles grant, its other roles (which applications read from tokens) and the scopes it
/// may be granted. The `admin` role grants everything, every role and scope included:
/// that is why the last enabled admin cannot be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    everything: bool,
    permissions: BTreeSet<Permission>,
    /// Roles the admin API does not know (`staff`, `billing`, ...).
    other_roles: BTreeSet<String>,
    scopes: BTreeSet<String>,
}

impl Rights {
    /// Every right (the admin role).
    pub fn everything() -> Self {
        Self {
            everything: true,
            permissions: Permission::ALL.into_iter().collect(),
            other_roles: BTreeSet::new(),
            scopes: BTreeSet::new(),
        }
    }

    pub fn of(holding: &Holding) -> Self {
        let admin_roles: Vec<Role> = holding
            .roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect();
        if admin_roles.contains(&Role::Admin) {
            return Self::everything();
        }
        Self {
            everything: false,
            permissions: Permission::ALL
                .into_iter()
                .filter(|p| admin_roles.iter().any(|r| r.grants(*p)))
                .collect(),
            other_roles: holding
                .roles
                .iter()
                .filter(|r| Role::parse(r).is_none())
                .cloned()
                .collect(),
            scopes: holding.scopes.iter().cloned().collect(),
        }
    }

    /// The one rule: `other` is no more than `self`. Admin-API roles compare by the
    /// permissions they grant (an operator holds everything an operator grants, but not
    /// an auditor's audit access); other roles and scopes by name.
    fn covers(&self, other: &Rights) -> bool {
        if self.everything {
            return true;
        }
        !other.everything
            && other.permissions.is_subset(&self.permissions)
            && other.other_roles.is_subset(&self.other_roles)
            && other.scopes.is_subset(&self.scopes)
    }

    /// Whether a principal holding `self` may give another principal `rights` (create it
    /// with them, or change it to hold them).
    pub fn may_confer(&self, rights: &Rights) -> bool {
        self.covers(rights)
    }

    /// Whether a principal holding `self` may change, disable, delete or rotate the
    /// secret of one holding `target`: only when the target holds no more.
    pub fn may_act_on(&self, target: &Rights) -> bool {
        self.covers(target)
    }
}

impl Authority for Rights {
    fn may_confer(&self, to: &Holding) -> bool {
        Rights::may_confer(self, &Rights::of(to))
    }
    fn may_act_on(&self, target: &Holding) -> bool {
        Rights::may_act_on(self, &Rights::of(target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights(roles: &[&str], scopes: &[&str]) -> Rights {
        Rights::of(&Holding {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn an_admin_confers_and_acts_on_anything() {
        let admin = rights(&["admin"], &[]);
        for other in [
            rights(&["admin"], &["admin"]),
            rights(
                &["operator", "auditor", "staff"],
                &["admin", "api", "openid"],
            ),
            rights(&[], &[]),
        ] {
            assert!(
                admin.may_confer(&other) && admin.may_act_on(&other),
                "{other:?}"
            );
        }
    }

    #[test]
    fn an_operator_confers_no_more_than_it_holds() {
        let operator = rights(&["operator"], &["admin", "api"]);
        for within in [
            rights(&[], &[]),
            rights(&["operator"], &["api"]),
            rights(&["operator"], &["admin", "api"]),
        ] {
            assert!(operator.may_confer(&within), "{within:?}");
            assert!(operator.may_act_on(&within), "{within:?}");
        }
        for beyond in [
            // The admin role, as role or by its permissions through another role.
            rights(&["admin"], &[]),
            rights(&["auditor"], &[]),
            rights(&["operator", "auditor"], &["api"]),
            // A role or scope the operator does not hold.
            rights(&["staff"], &[]),
            rights(&[], &["billing"]),
            rights(&["operator"], &["admin", "api", "openid"]),
        ] {
            assert!(!operator.may_confer(&beyond), "{beyond:?}");
            assert!(!operator.may_act_on(&beyond), "{beyond:?}");
        }
    }

    #[test]
    fn the_admin_scope_is_a_right_like_any_other() {
        let no_admin_scope = rights(&["operator"], &["api"]);
        assert!(!no_admin_scope.may_confer(&rights(&[], &["admin"])));
        assert!(!no_admin_scope.may_act_on(&rights(&[], &["admin", "api"])));
    }

    #[test]
    fn an_auditor_holds_less_than_an_operator_and_the_reverse() {
        let auditor = rights(&["auditor"], &["admin"]);
        let operator = rights(&["operator"], &["admin"]);
        assert!(!auditor.may_act_on(&operator));
        assert!(!operator.may_act_on(&auditor));
        assert!(auditor.may_act_on(&rights(&["auditor"], &[])));
    }
}
