//! Request bodies and query strings for the admin API, parsed strictly: unknown and
//! duplicate fields are refused, and every error names the field (JSON path or query
//! parameter) it is about. Bodies over `MAX_BODY` answer 413 before they are parsed.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::AdminError;

/// Largest admin request body. Generous for a client with many redirect URIs, small
/// enough that nobody can make the server buffer much.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body, required.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// A JSON body that may be absent (empty), meaning `T::default()`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

/// A query string.
#[derive(Debug)]
pub struct Query<T>(pub T);

/// The field a serde error is about: its path, or the name serde quotes for unknown,
/// duplicate and missing fields (those are reported at the enclosing object).
fn field_of(path: &str, message: &str) -> String {
    // The root, or a position serde_path_to_error could not name.
    let path = if path == "." || path == "?" { "" } else { path };
    for prefix in ["unknown field `", "duplicate field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((name, _)) = rest.split_once('`')
        {
            return if path.is_empty() {
                name.to_owned()
            } else if path == name || path.ends_with(&format!(".{name}")) {
                path.to_owned()
            } else {
                format!("{path}.{name}")
            };
        }
    }
    if path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

/// serde_json appends " at line L column C"; the field name says more to an API user.
fn without_position(message: &str) -> &str {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(head, _)| head)
}

/// A JSON body as the admin API reads it: unknown or mistyped fields name their path, and
/// trailing data is refused. Public so the `admin_json` fuzz target drives this very code.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let message = err.inner().to_string();
        // Not JSON at all is about the body, wherever the parser gave up.
        let field = if err.inner().is_syntax() || err.inner().is_eof() {
            "body".to_owned()
        } else {
            field_of(&err.path().to_string(), &message)
        };
        AdminError::invalid(field, without_position(&message).to_owned())
    })?;
    de.end().map_err(|_| {
        AdminError::invalid("body", "unexpected data after the JSON value".to_owned())
    })?;
    Ok(value)
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json")
                || (v.len() > 5 && v.to_ascii_lowercase().ends_with("+json"))
        })
}

/// Reads the body up to `MAX_BODY`; the declared length is checked first so an oversized
/// upload is refused without reading it.
async fn read_body(req: &HttpRequest, mut payload: Payload) -> Result<Vec<u8>, AdminError> {
    let too_large = AdminError::PayloadTooLarge { limit: MAX_BODY };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AdminError::invalid("body", "the body could not be read"))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AdminError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let body = read_body(&req, payload).await?;
            if !is_json(&req) {
                return Err(AdminError::UnsupportedMediaType);
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(AdminError::invalid("body", "a JSON object is required"));
            }
            parse_json(&body).map(Json)
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = AdminError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let body = read_body(&req, payload).await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if !is_json(&req) {
                return Err(AdminError::UnsupportedMediaType);
            }
            parse_json(&body).map(OptionalJson)
        })
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AdminError;
    type Future = std::future::Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// A query string as the admin API reads it: a parameter given twice is refused, and a bad
/// value names its parameter. Public so the `admin_json` fuzz target drives this code too.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AdminError> {
    let pairs = url::form_urlencoded::parse(query.as_bytes());
    // A parameter given twice is ambiguous: refuse it rather than pick one.
    let mut seen = std::collections::HashSet::new();
    for (name, _) in pairs {
        if !seen.insert(name.clone()) {
            return Err(AdminError::invalid(
                name.into_owned(),
                "given more than once",
            ));
        }
    }
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let message = err.inner().to_string();
        let field = field_of(&err.path().to_string(), &message);
        let field = if field == "body" {
            "query".to_owned()
        } else {
            field
        };
        AdminError::invalid(field, message)
    })
}

/// Path parameters are plain strings here; the service looks them up.
pub type PathParam = web::Path<String>;
