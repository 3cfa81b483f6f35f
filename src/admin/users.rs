//! `/admin/v1/users`: people who log in, their roles, their sessions and their second
//! factors.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::auth::Principal;
use super::double_option;
use super::error::{AdminError, ErrorBody};
use super::extract::{Json, OptionalJson, PathParam, Query};
use crate::http::state::AppState;
use crate::manage::factors::{FactorsReset, UserFactorsView};
use crate::manage::users::{BrowserSessionView, GrantView, NewUser, UserUpdate, UserView};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Part of the username or email address.
    pub search: Option<String>,
    /// Default 0.
    pub offset: Option<i64>,
    /// 1 to 1000; default 100.
    pub limit: Option<i64>,
}

/// One page of users, ordered by username.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub offset: i64,
    pub limit: i64,
    /// The offset of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<i64>,
}

/// A new user. Without `password`, one is generated and returned once.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// Changes to a user's profile: absent fields stay, `null` clears `email` or `name`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub username: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
}

/// A new password; absent (or an empty body) to have one generated and returned once.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSet {
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// A user and, when the server generated it, the password (shown once). No `Debug`: it
/// may hold a password.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserWithPassword {
    #[serde(flatten)]
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionsRevoked {
    /// How many grants were revoked.
    pub revoked: usize,
}

fn no_store(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    response
}

#[utoipa::path(
    get, path = "/admin/v1/users", tag = "users", operation_id = "list_users",
    params(UserListQuery),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 400, description = "Invalid query (the parameter is named)", body = ErrorBody),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    Query(q): Query<UserListQuery>,
) -> Result<HttpResponse, AdminError> {
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit.unwrap_or(100));
    let items = state.service.list_users(q.search, offset, limit).await?;
    Ok(HttpResponse::Ok().json(UserPage {
        next_offset: super::next_offset(offset, limit, items.len()),
        items,
        offset,
        limit,
    }))
}

#[utoipa::path(
    get, path = "/admin/v1/users/{user}", tag = "users", operation_id = "get_user",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn get(state: web::Data<AppState>, user: PathParam) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(state.service.get_user(&user).await?))
}

#[utoipa::path(
    post, path = "/admin/v1/users", tag = "users", operation_id = "create_user",
    request_body = UserCreate,
    responses(
        (status = 201, description = "Created; a generated password is in this response only", body = UserWithPassword),
        (status = 400, description = "Invalid field (named)", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    Json(body): Json<UserCreate>,
) -> Result<HttpResponse, AdminError> {
    let created = state
        .service
        .create_user(
            principal.caller(),
            NewUser {
                username: body.username,
                email: body.email,
                name: body.name,
                roles: body.roles,
                // Moves the allocation: it is wiped when dropped.
                password: body.password.map(Zeroizing::new),
            },
        )
        .await?;
    Ok(no_store(HttpResponse::Created()).json(UserWithPassword {
        password: created.generated_password.as_deref().cloned(),
        user: created.user,
    }))
}

#[utoipa::path(
    patch, path = "/admin/v1/users/{user}", tag = "users", operation_id = "update_user",
    params(("user" = String, Path, description = "User id or username")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user after the change", body = UserView),
        (status = 400, description = "Invalid field (named)", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The new username is taken", body = ErrorBody),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
    Json(body): Json<UserPatch>,
) -> Result<HttpResponse, AdminError> {
    let change = UserUpdate {
        username: body.username,
        email: body.email,
        email_verified: body.email_verified,
        name: body.name,
    };
    Ok(HttpResponse::Ok().json(
        state
            .service
            .update_user(principal.caller(), &user, change)
            .await?,
    ))
}

#[utoipa::path(
    post, path = "/admin/v1/users/{user}/disable", tag = "users", operation_id = "disable_user",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user, now disabled", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last enabled admin cannot be disabled", body = ErrorBody),
    )
)]
pub async fn disable(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(
        state
            .service
            .set_user_disabled(principal.caller(), &user, true)
            .await?,
    ))
}

#[utoipa::path(
    post, path = "/admin/v1/users/{user}/enable", tag = "users", operation_id = "enable_user",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user, now enabled", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn enable(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(
        state
            .service
            .set_user_disabled(principal.caller(), &user, false)
            .await?,
    ))
}

#[utoipa::path(
    post, path = "/admin/v1/users/{user}/password", tag = "users", operation_id = "set_user_password",
    params(("user" = String, Path, description = "User id or username")),
    request_body(content = Option<PasswordSet>, description = "Empty to generate a password"),
    responses(
        (status = 200, description = "Changed; a generated password is in this response only", body = UserWithPassword),
        (status = 400, description = "The password is too short or too long", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn set_password(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
    OptionalJson(body): OptionalJson<PasswordSet>,
) -> Result<HttpResponse, AdminError> {
    let (password, generated) = match body.password {
        Some(p) => (Zeroizing::new(p), false),
        None => (crate::crypto::tokens::random_password(), true),
    };
    let shown = generated.then(|| password.as_str().to_owned());
    let updated = state
        .service
        .set_password(principal.caller(), &user, password)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(UserWithPassword {
        user: updated,
        password: shown,
    }))
}

#[utoipa::path(
    delete, path = "/admin/v1/users/{user}", tag = "users", operation_id = "delete_user",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 204, description = "Deleted, with the user's grants"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last enabled admin cannot be deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    state.service.delete_user(principal.caller(), &user).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    put, path = "/admin/v1/users/{user}/roles/{role}", tag = "users", operation_id = "add_user_role",
    params(
        ("user" = String, Path, description = "User id or username"),
        ("role" = String, Path, description = "Role name (a-z 0-9 _ - : .)"),
    ),
    responses(
        (status = 200, description = "The user with the role (adding it twice is harmless)", body = UserView),
        (status = 400, description = "Not a role name", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn add_role(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (user, role) = path.into_inner();
    Ok(HttpResponse::Ok().json(
        state
            .service
            .add_user_role(principal.caller(), &user, &role)
            .await?,
    ))
}

#[utoipa::path(
    delete, path = "/admin/v1/users/{user}/roles/{role}", tag = "users", operation_id = "remove_user_role",
    params(
        ("user" = String, Path, description = "User id or username"),
        ("role" = String, Path, description = "Role name"),
    ),
    responses(
        (status = 200, description = "The user without the role", body = UserView),
        (status = 404, description = "No such user, or the user lacks the role", body = ErrorBody),
        (status = 409, description = "The last enabled admin keeps the admin role", body = ErrorBody),
    )
)]
pub async fn remove_role(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (user, role) = path.into_inner();
    Ok(HttpResponse::Ok().json(
        state
            .service
            .remove_user_role(principal.caller(), &user, &role)
            .await?,
    ))
}

#[utoipa::path(
    get, path = "/admin/v1/users/{user}/sessions", tag = "users", operation_id = "list_user_sessions",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user's live browser sessions (where they are signed in: device, address, started, last seen), the most recently seen first", body = Vec<BrowserSessionView>),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn sessions(
    state: web::Data<AppState>,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(state.service.list_user_sessions(&user).await?))
}

#[utoipa::path(
    delete, path = "/admin/v1/users/{user}/sessions/{session}", tag = "users", operation_id = "end_user_session",
    params(
        ("user" = String, Path, description = "User id or username"),
        ("session" = String, Path, description = "The session's id (`id` in the list, the `sid` of its ID tokens)"),
    ),
    responses(
        (status = 204, description = "The session ended, as a logout would end it: its cookie no longer signs anyone in"),
        (status = 404, description = "No such user, or the user has no such session", body = ErrorBody),
    )
)]
pub async fn end_session(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (user, session) = path.into_inner();
    state
        .service
        .end_user_session(principal.caller(), &user, &session)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get, path = "/admin/v1/users/{user}/grants", tag = "users", operation_id = "list_user_grants",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user's active grants (refresh-token families), newest first", body = Vec<GrantView>),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn grants(
    state: web::Data<AppState>,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(state.service.list_user_grants(&user).await?))
}

#[utoipa::path(
    delete, path = "/admin/v1/users/{user}/sessions", tag = "users", operation_id = "revoke_user_sessions",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user signed out everywhere: every browser session ended and every grant (refresh-token family) revoked", body = SessionsRevoked),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    let revoked = state
        .service
        .revoke_user_sessions(principal.caller(), &user)
        .await?;
    Ok(HttpResponse::Ok().json(SessionsRevoked { revoked }))
}

#[utoipa::path(
    get, path = "/admin/v1/users/{user}/factors", tag = "users", operation_id = "list_user_factors",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "The user's second factors, oldest first (never a secret or a passkey credential), and how many recovery codes are left", body = UserFactorsView),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn factors(
    state: web::Data<AppState>,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(state.service.list_user_factors(&user).await?))
}

#[utoipa::path(
    delete, path = "/admin/v1/users/{user}/factors", tag = "users", operation_id = "reset_user_factors",
    params(("user" = String, Path, description = "User id or username")),
    responses(
        (status = 200, description = "Every factor and recovery code of the user removed, and the user signed out everywhere (sessions ended, grants revoked)", body = FactorsReset),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
pub async fn reset_factors(
    state: web::Data<AppState>,
    principal: Principal,
    user: PathParam,
) -> Result<HttpResponse, AdminError> {
    let reset = state
        .service
        .reset_user_factors(principal.caller(), &user)
        .await?;
    state
        .metrics
        .second_factor
        .with_label_values(&["all", "reset"])
        .inc();
    Ok(HttpResponse::Ok().json(reset))
}
