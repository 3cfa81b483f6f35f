//! The shape of the admin route table. The table itself is in `super::routes` (next to
//! `crate::http::routes`, the public surface); this macro turns each line of it into the
//! actix route wrapped in its permission guard, a row of `ADMIN_API` (which tests walk),
//! and a path of the OpenAPI document, so the three cannot drift apart.

use actix_web::{Route, web};

use super::rbac::Permission;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    pub fn route(self) -> Route {
        match self {
            Self::Get => web::get(),
            Self::Post => web::post(),
            Self::Put => web::put(),
            Self::Patch => web::patch(),
            Self::Delete => web::delete(),
        }
    }
}

/// One admin API route and the permission it requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminRoute {
    pub method: Method,
    pub path: &'static str,
    pub permission: Permission,
}

/// `METHOD "path" => Permission, handler;` lines become:
/// - `pub fn $configure(cfg)`: each handler registered with `Require(permission)` around it;
/// - `pub const $table: &[AdminRoute]`;
/// - `pub struct $doc` deriving `utoipa::OpenApi` over exactly those handlers.
macro_rules! admin_route_table {
    (
        $(#[$meta:meta])*
        pub fn $configure:ident, const $table:ident, struct $doc:ident {
            $( $method:ident $path:literal => $permission:ident, $($handler:ident)::+ ; )*
        }
    ) => {
        pub const $table: &[$crate::admin::table::AdminRoute] = &[
            $( $crate::admin::table::AdminRoute {
                method: $crate::admin::table::Method::$method,
                path: $path,
                permission: $crate::admin::rbac::Permission::$permission,
            }, )*
        ];

        $(#[$meta])*
        pub fn $configure(cfg: &mut ::actix_web::web::ServiceConfig) {
            $(
                cfg.route(
                    $path,
                    $crate::admin::table::Method::$method
                        .route()
                        .to($($handler)::+)
                        .wrap($crate::admin::guard::Require(
                            $crate::admin::rbac::Permission::$permission,
                        )),
                );
            )*
        }

        /// The OpenAPI document of the admin API, generated from the handlers' annotations.
        #[derive(::utoipa::OpenApi)]
        #[openapi(
            info(
                title = "Portcullis admin API",
                version = "1",
                description = "Manage clients, users, signing keys and the audit log. Every route needs a Bearer access token issued by this server with the `admin` scope, and a role that grants the route's permission (`x-permission`)."
            ),
            paths( $( $($handler)::+ ),* ),
            tags(
                (name = "clients", description = "OAuth clients (RFC 7591 metadata names)"),
                (name = "users", description = "Users, roles, sessions and second factors"),
                (name = "keys", description = "Signing keys"),
                (name = "audit", description = "The tamper-evident audit log"),
                (name = "doctor", description = "Whether this deployment keeps the project's security rules"),
            )
        )]
        pub struct $doc;
    };
}

pub(crate) use admin_route_table;
