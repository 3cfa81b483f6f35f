//! `/jwks.json` and the discovery documents: pre-serialised bytes, cacheable, with an
//! ETag so caches can revalidate cheaply. Readable from any origin: `super::cors` says so.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::state::AppState;

fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let set = state.keys.current();
    let cache = format!("public, max-age={}", state.keys.policy().jwks_max_age);
    if not_modified(&req, set.etag()) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, set.etag()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header((header::ETAG, set.etag()))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(actix_web::web::Bytes::copy_from_slice(set.jwks()))
}

pub async fn discovery(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let doc = &state.discovery;
    if not_modified(&req, &doc.etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, doc.etag.as_str()))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, doc.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(doc.body.clone())
}
