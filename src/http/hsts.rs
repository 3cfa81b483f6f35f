//! `Strict-Transport-Security` (RFC 6797) on every response of both listeners when the
//! issuer is https: after one visit the browser refuses plain http to this host, so a
//! network attacker cannot strip TLS from a later sign-in. Over plain http the header is
//! never sent (browsers ignore it there, and a loopback development issuer must stay
//! reachable over http).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::http::state::AppState;

/// One year, the value the HSTS preload list asks for. No `includeSubDomains`: the issuer's
/// host says nothing about the other hosts of its domain.
const POLICY: &str = "max-age=31536000";

pub async fn strict_transport_security(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.config.issuer.is_https());
    if !https {
        return next.call(req).await;
    }
    match next.call(req).await {
        Ok(mut response) => {
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(POLICY),
            );
            Ok(response)
        }
        // An error that escaped a handler or middleware becomes its response only after
        // this point; give it that response now, with the header.
        Err(err) => {
            let mut response = err.error_response();
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(POLICY),
            );
            Err(InternalError::from_response(err, response).into())
        }
    }
}
