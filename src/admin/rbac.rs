//! Role-based access control: every admin route requires one permission (declared next
//! to the route in `crate::http::routes`), and a role grants a fixed set of permissions.
//! Deny by default: a request passes only when the route's guard ran and one of the
//! caller's roles grants the permission; a handler cannot even learn who called without
//! the guard (see `Principal`).

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{HttpMessage, ResponseError, web};
use serde::Serialize;

use super::auth::{self, Principal};
use super::error::AdminError;
use crate::app::AppState;

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

/// The guard every admin route is wrapped in (see `crate::admin::table`).
#[derive(Debug, Clone, Copy)]
pub struct Require(pub Permission);

impl<S> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>
        + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = RequireMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireMiddleware {
            service: Rc::new(service),
            permission: self.0,
        }))
    }
}

pub struct RequireMiddleware<S> {
    service: Rc<S>,
    permission: Permission,
}

impl<S> Service<ServiceRequest> for RequireMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>
        + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let permission = self.permission;
        Box::pin(async move {
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                tracing::error!("admin route without application state");
                return Ok(req.error_response(AdminError::Internal));
            };
            let principal = match auth::authenticate(req.request(), &state).await {
                Ok(principal) => principal,
                Err(err) => return Ok(req.into_response(err.error_response())),
            };
            if !principal.allows(permission) {
                tracing::info!(
                    actor = %principal.actor.0,
                    permission = permission.as_str(),
                    route = req.match_pattern().as_deref().unwrap_or("?"),
                    "admin API access denied"
                );
                return Ok(req.error_response(AdminError::Forbidden(permission)));
            }
            req.extensions_mut().insert::<Principal>(principal);
            service.call(req).await
        })
    }
}
