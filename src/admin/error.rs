//! Admin API errors: one JSON shape for every failure, naming the offending field when
//! there is one. Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::rbac::Permission;
use crate::crypto::password::PasswordError;
use crate::manage::{ManageError, StoreFailure};

/// The body of every admin API error.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `not_found`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `access_denied`, `temporarily_unavailable` or
    /// `server_error`.
    pub error: &'static str,
    pub error_description: String,
    /// The request field (JSON path or query parameter) the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict {
        field: Option<&'static str>,
        message: String,
    },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("this route needs the `{}` permission", .0.as_str())]
    Forbidden(Permission),
    /// The caller may use the route but not on this target, or not confer these rights.
    #[error("access denied: {0}")]
    Denied(&'static str),
    #[error("the service is temporarily unavailable")]
    Unavailable { retry_after_secs: u32 },
    #[error("the server could not complete the request")]
    Internal,
}

impl AdminError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_request",
            Self::NotFound(_) => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Forbidden(_) | Self::Denied(_) => "access_denied",
            Self::Unavailable { .. } => "temporarily_unavailable",
            Self::Internal => "server_error",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Invalid { field, .. } => Some(field.clone()),
            Self::Conflict { field, .. } => field.map(str::to_owned),
            Self::PayloadTooLarge { .. } | Self::UnsupportedMediaType => Some("body".into()),
            Self::NotFound(_)
            | Self::Forbidden(_)
            | Self::Denied(_)
            | Self::Unavailable { .. }
            | Self::Internal => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
            field: self.field(),
        }
    }
}

impl From<StoreFailure> for AdminError {
    fn from(failure: StoreFailure) -> Self {
        match failure {
            StoreFailure::Unavailable => Self::Unavailable {
                retry_after_secs: 5,
            },
            StoreFailure::NotFound => Self::NotFound("object"),
            StoreFailure::Conflict => Self::Conflict {
                field: None,
                message: "the object already exists".into(),
            },
            StoreFailure::Internal => Self::Internal,
        }
    }
}

impl From<ManageError> for AdminError {
    fn from(err: ManageError) -> Self {
        let field = err.field();
        match err {
            ManageError::Invalid { field, message } => Self::invalid(field, message),
            ManageError::NotFound(what) => Self::NotFound(what),
            ManageError::Conflict(what) => Self::Conflict {
                field,
                message: format!("{what} already exists"),
            },
            ManageError::Refused(why) => Self::Conflict {
                field,
                message: format!("refused: {why}"),
            },
            ManageError::Denied(why) => Self::Denied(why),
            ManageError::Password(PasswordError::Overloaded) => Self::Unavailable {
                retry_after_secs: 2,
            },
            ManageError::Password(PasswordError::TooLong) => {
                Self::invalid("password", PasswordError::TooLong.to_string())
            }
            ManageError::Password(PasswordError::Hashing) => {
                tracing::error!("password hashing failed in the admin API");
                Self::Internal
            }
            ManageError::Store(e) => StoreFailure::of(e).into(),
            // The admin API takes no registration tokens; were one refused, it is no
            // business of this caller's which.
            ManageError::Unauthenticated => Self::Denied("invalid token"),
            ManageError::Full(_) => Self::Unavailable {
                retry_after_secs: 60,
            },
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Forbidden(_) | Self::Denied(_) => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Self::Unavailable { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        response.json(self.body())
    }
}
