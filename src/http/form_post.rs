//! What the token, introspection and revocation endpoints share: a form-encoded POST body
//! (anything else is `invalid_request`) and an optional `Authorization` header for client
//! authentication.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::oauth::error::OAuthError;
use crate::oauth::form::{FormLimits, FormMap};

pub struct FormPost<'a> {
    pub form: FormMap,
    pub authorization: Option<&'a str>,
}

pub fn parse<'a>(
    req: &'a HttpRequest,
    body: &[u8],
    what: &'static str,
    limits: &FormLimits,
) -> Result<FormPost<'a>, OAuthError> {
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(OAuthError::invalid_request(format!(
            "the {what} request must be application/x-www-form-urlencoded"
        )));
    }
    let form = FormMap::parse_with(body, limits)?;
    let authorization = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| OAuthError::invalid_client(true))?,
        ),
    };
    Ok(FormPost {
        form,
        authorization,
    })
}
