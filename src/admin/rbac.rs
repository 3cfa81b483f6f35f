//! Role-based access control: every admin route requires one permission (declared next
//! to the route in `super::routes`), and a role grants a fixed set of permissions.
//! Deny by default: a request passes only when the route's guard (`super::guard`) ran and
//! one of the caller's roles grants the permission; a handler cannot even learn who called
//! without the guard (see `super::auth::Principal`).

use serde::Serialize;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Permission {
    ClientsRead,
    ClientsWrite,
    UsersRead,
    UsersWrite,
    KeysRead,
    KeysWrite,
    AuditRead,
}

impl Permission {
    pub const ALL: [Permission; 7] = [
        Self::ClientsRead,
        Self::ClientsWrite,
        Self::UsersRead,
        Self::UsersWrite,
        Self::KeysRead,
        Self::KeysWrite,
        Self::AuditRead,
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
    /// Read-only: lists, audit query and verify.
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
                P::UsersWrite | P::AuditRead => false,
            },
            Self::Auditor => match permission {
                P::ClientsRead | P::UsersRead | P::KeysRead | P::AuditRead => true,
                P::ClientsWrite | P::UsersWrite | P::KeysWrite => false,
            },
        }
    }
}
