//! The guard every admin route is wrapped in: authenticate the caller (`super::auth`),
//! then require the route's permission (`super::rbac`). Kept apart from both so that
//! authentication and the role table do not import each other.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{HttpMessage, ResponseError, web};

use super::auth::{self, Principal};
use super::error::AdminError;
use super::rbac::Permission;
use crate::http::state::AppState;

/// The guard every admin route is wrapped in (see `super::table`).
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
                let route = req.match_pattern().unwrap_or_else(|| "?".to_owned());
                tracing::info!(
                    actor = %principal.actor,
                    permission = permission.as_str(),
                    route = %route,
                    "admin API access denied"
                );
                // The refusal is answered the same whether or not its audit row could be
                // stored; a failure to store it is logged.
                let details = serde_json::json!({
                    "route": format!("{} {route}", req.method()),
                    "reason": format!("needs the `{}` permission", permission.as_str()),
                });
                if let Err(err) = state
                    .service
                    .record_refusal(&principal.actor, None, details)
                    .await
                {
                    tracing::warn!(error = %err, "admin API: refusal not recorded");
                }
                return Ok(req.error_response(AdminError::Forbidden(permission)));
            }
            req.extensions_mut().insert::<Principal>(principal);
            service.call(req).await
        })
    }
}
