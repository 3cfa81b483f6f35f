//! Per-IP request rate limit for /token, our own small middleware over governor (the
//! popular actix wrapper is GPL; the table itself is `super::ip_limiter`). Limits are per
//! replica and in memory; brute force against passwords is handled separately, in the
//! database, across replicas.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::http::state::AppState;

pub async fn limit_token_endpoint(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limited = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let limiter = state.token_rate_limit.as_ref()?;
        let client = state.client_address(req.peer_addr(), req.headers())?;
        limiter.check(client.key).err()
    });
    if let Some(wait) = limited {
        let response = HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, wait.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "too many requests from this address; retry later",
            }));
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
