//! File requests: the owner's routes (create, list, close) and the public one
//! an uploader calls with the link to see what it takes. Uploads themselves go
//! through the ordinary upload routes with the link's credential (see
//! [`crate::auth::Uploader`] and `super::uploads`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sealdrop_api::{
    CloseFileRequest, CreateFileRequest, CreateFileRequestResponse, FileRequestStatus,
    LinkCredentials, ListFileRequestsResponse, PublicFileRequest, SecretString, routes,
};
use sealdrop_state::{FileRequestRecord, INBOX, NewFileRequest};

use crate::audit::Action;
use crate::auth::{AuthUser, PublicCaller};
use crate::error::{ApiError, ApiJson, Failures};
use crate::policy;
use crate::state::AppState;

const DEFAULT_MAX_FILES: u32 = 10;
const MAX_FILES: u32 = 1000;
const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// `POST /api/v1/requests`
#[utoipa::path(post, path = routes::REQUESTS, tag = "requests",
    request_body = CreateFileRequest,
    responses((status = 201, description = "The request and its secret (shown once)", body = CreateFileRequestResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateFileRequest>,
) -> Result<(StatusCode, Json<CreateFileRequestResponse>), ApiError> {
    let expires_in = super::shares::link_lifetime(&state, request.expires_in_secs)?;
    let max_files = request.max_files.unwrap_or(DEFAULT_MAX_FILES);
    if !(1..=MAX_FILES).contains(&max_files) {
        return Err(ApiError::BadRequest(format!(
            "max_files must be between 1 and {MAX_FILES}"
        )));
    }
    let max_bytes = request.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes == 0 {
        return Err(ApiError::BadRequest("max_bytes must be at least 1".into()));
    }
    let name = request.name.trim();
    if name.contains('/') {
        return Err(ApiError::InvalidName(
            "a file request's name is one folder name, without /".into(),
        ));
    }
    let prefix = format!("{}{INBOX}", policy::user_prefix(&user.name));
    policy::validate_new_name(name, prefix.len() + 1)?;
    let issued = state
        .db
        .create_file_request(&NewFileRequest {
            user: &user.name,
            name,
            expires_in,
            max_files,
            max_bytes,
            note: request
                .note
                .as_deref()
                .filter(|note| !note.trim().is_empty()),
        })
        .await?;
    let record = state
        .db
        .find_file_request(&issued.id, &issued.secret)
        .await?
        .ok_or_else(|| ApiError::Internal("a file request just created cannot be read".into()))?;
    state.audit.record_link::<(), ApiError>(
        &user.name,
        &record.id,
        Action::CreateFileRequest,
        &record.prefix(),
        None,
        &Ok(()),
    );
    Ok((
        StatusCode::CREATED,
        Json(CreateFileRequestResponse {
            request: record.summary(),
            secret: SecretString::new(issued.secret.to_string()),
        }),
    ))
}

/// `GET /api/v1/requests`
#[utoipa::path(get, path = routes::REQUESTS, tag = "requests",
    responses((status = 200, description = "The caller's file requests, newest first", body = ListFileRequestsResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ListFileRequestsResponse>, ApiError> {
    let requests = state.db.file_requests_of(&user.name).await?;
    Ok(Json(ListFileRequestsResponse {
        requests: requests.iter().map(FileRequestRecord::summary).collect(),
    }))
}

/// `POST /api/v1/requests/close`
#[utoipa::path(post, path = routes::REQUEST_CLOSE, tag = "requests",
    request_body = CloseFileRequest,
    responses((status = 204, description = "Closed (or already closed)"),
        Failures),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CloseFileRequest>,
) -> Result<StatusCode, ApiError> {
    if !state.db.close_file_request(&user.name, &request.id).await? {
        return Err(ApiError::NotFound("you have no such file request".into()));
    }
    state.audit.record_link::<(), ApiError>(
        &user.name,
        &request.id,
        Action::CloseFileRequest,
        &format!("{}{INBOX}", policy::user_prefix(&user.name)),
        None,
        &Ok(()),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/public/request` (no account needed)
#[utoipa::path(post, path = routes::PUBLIC_REQUEST, tag = "public",
    request_body = LinkCredentials,
    responses((status = 200, description = "Who asks for files, and how many and how much it still takes", body = PublicFileRequest),
        Failures))]
pub async fn describe(
    State(state): State<AppState>,
    _caller: PublicCaller,
    ApiJson(link): ApiJson<LinkCredentials>,
) -> Result<Json<PublicFileRequest>, ApiError> {
    let record = state
        .db
        .find_file_request(&link.id, link.secret.expose())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "no such file request link: check that the whole link was copied".into(),
            )
        })?;
    match record.status() {
        FileRequestStatus::Open => {}
        ended => return Err(ApiError::Gone(ended.explanation().into())),
    }
    let summary = record.summary();
    Ok(Json(PublicFileRequest {
        recipient: record.user,
        name: record.name,
        note: record.note,
        expires_at: summary.expires_at,
        files_left: record.max_files.saturating_sub(record.files),
        bytes_left: record.max_bytes.saturating_sub(record.bytes),
        limits: super::me::limits(&state),
    }))
}
