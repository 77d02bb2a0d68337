//! Share links: the owner's routes (create, list, revoke) and the two public
//! ones a recipient calls with the link (what it holds; open one file).
//!
//! A recipient's download goes through [`super::objects::open_object`], the
//! path the owner's own downloads take: the data key is unwrapped with the
//! object's own encryption context and checked against its key commitment, and
//! the client decrypts and verifies as it would for the owner. A download is
//! counted when that key material (or, for SSE, the presigned GET) is about to
//! be handed out, by one conditional update in the shared database
//! ([`sealdrop_state::Database::count_share_download`]); a failure before that
//! point costs the recipient nothing.
//!
//! Each shared object is pinned to the ETag it had when it was shared: an
//! object replaced since is a different object and is not served (share it
//! again to share the new one).

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use futures::stream::{self, StreamExt, TryStreamExt};
use sealdrop_api::{
    CreateShareRequest, CreateShareResponse, LinkCredentials, ListSharesResponse,
    OpenObjectResponse, OpenShareRequest, PublicShare, PublicSharedFile, RevokeShareRequest,
    SecretString, ShareStatus, routes,
};
use sealdrop_state::{MAX_SHARED_OBJECTS, NewShare, ShareObject, ShareRecord};

use super::describe::object_info;
use super::objects::open_object;
use crate::audit::Action;
use crate::auth::{AuthUser, PublicCaller};
use crate::error::{ApiError, ApiJson, Failures};
use crate::policy;
use crate::state::AppState;
use crate::storage::ObjectHead;

/// What a link works for unless its owner says otherwise (capped by the
/// operator's maximum).
const DEFAULT_EXPIRY_SECS: u64 = 7 * 86_400;
/// The shortest expiry a link may ask for.
const MIN_EXPIRY_SECS: u64 = 60;
/// HEAD requests in flight while describing a share.
const HEAD_CONCURRENCY: usize = 16;

/// How long a new link (a share or a file request) works: what was asked
/// for, else 7 days, within this server's maximum.
pub(super) fn link_lifetime(
    state: &AppState,
    requested: Option<u64>,
) -> Result<Duration, ApiError> {
    let max = state.config.share_max_expiry_secs;
    let secs = requested.unwrap_or(DEFAULT_EXPIRY_SECS.min(max));
    if !(MIN_EXPIRY_SECS..=max).contains(&secs) {
        return Err(ApiError::BadRequest(format!(
            "expires_in_secs must be between {MIN_EXPIRY_SECS} and {max} (this server's maximum)"
        )));
    }
    Ok(Duration::from_secs(secs))
}

/// The one answer to an unknown id and to a wrong secret.
fn no_such_link() -> ApiError {
    ApiError::NotFound("no such share link: check that the whole link was copied".into())
}

/// `POST /api/v1/shares`
#[utoipa::path(post, path = routes::SHARES, tag = "shares",
    request_body = CreateShareRequest,
    responses((status = 201, description = "The share and its secret (shown once)", body = CreateShareResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<CreateShareRequest>,
) -> Result<(StatusCode, Json<CreateShareResponse>), ApiError> {
    let expires_in = link_lifetime(&state, request.expires_in_secs)?;
    if request.keys.is_empty() || request.keys.len() > MAX_SHARED_OBJECTS {
        return Err(ApiError::BadRequest(format!(
            "share 1 to {MAX_SHARED_OBJECTS} objects"
        )));
    }
    if request.keys.iter().collect::<BTreeSet<_>>().len() != request.keys.len() {
        return Err(ApiError::BadRequest("an object is listed twice".into()));
    }
    let mut objects = Vec::with_capacity(request.keys.len());
    for key in &request.keys {
        super::authorize(&state, &user.name, Action::Share, key)?;
        let head = state
            .storage
            .head(key)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no object {key}")))?;
        let etag = head
            .etag
            .ok_or_else(|| ApiError::Upstream(format!("storage gave no ETag for {key}")))?;
        objects.push((key.clone(), etag));
    }
    let issued = state
        .db
        .create_share(&NewShare {
            user: &user.name,
            objects: &objects,
            expires_in,
            max_downloads: request.max_downloads,
            note: request
                .note
                .as_deref()
                .filter(|note| !note.trim().is_empty()),
        })
        .await?;
    for (key, _) in &objects {
        state.audit.record_link::<(), ApiError>(
            &user.name,
            &issued.id,
            Action::Share,
            key,
            None,
            &Ok(()),
        );
    }
    let record = state
        .db
        .find_share(&issued.id, &issued.secret)
        .await?
        .ok_or_else(|| ApiError::Internal("a share just created cannot be read".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(CreateShareResponse {
            share: record.summary(),
            secret: SecretString::new(issued.secret.to_string()),
        }),
    ))
}

/// `GET /api/v1/shares`
#[utoipa::path(get, path = routes::SHARES, tag = "shares",
    responses((status = 200, description = "The caller's shares, newest first", body = ListSharesResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ListSharesResponse>, ApiError> {
    let shares = state.db.shares_of(&user.name).await?;
    Ok(Json(ListSharesResponse {
        shares: shares.iter().map(ShareRecord::summary).collect(),
    }))
}

/// `POST /api/v1/shares/revoke`
#[utoipa::path(post, path = routes::SHARE_REVOKE, tag = "shares",
    request_body = RevokeShareRequest,
    responses((status = 204, description = "Revoked (or already revoked)"),
        Failures),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<RevokeShareRequest>,
) -> Result<StatusCode, ApiError> {
    if !state.db.revoke_share(&user.name, &request.id).await? {
        return Err(ApiError::NotFound("you have no such share".into()));
    }
    state.audit.record_link::<(), ApiError>(
        &user.name,
        &request.id,
        Action::RevokeShare,
        &policy::user_prefix(&user.name),
        None,
        &Ok(()),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The share the link names, if its secret is right (else 404, whichever
/// part was wrong) and it still works (else 410, saying why).
async fn live_share(
    state: &AppState,
    id: &str,
    secret: &SecretString,
) -> Result<ShareRecord, ApiError> {
    let record = state
        .db
        .find_share(id, secret.expose())
        .await?
        .ok_or_else(no_such_link)?;
    match record.status() {
        ShareStatus::Active => Ok(record),
        ended => Err(ApiError::Gone(ended.explanation().into())),
    }
}

/// `POST /api/v1/public/share` (no account needed)
#[utoipa::path(post, path = routes::PUBLIC_SHARE, tag = "public",
    request_body = LinkCredentials,
    responses((status = 200, description = "Who shared what, until when", body = PublicShare),
        Failures))]
pub async fn describe(
    State(state): State<AppState>,
    _caller: PublicCaller,
    ApiJson(link): ApiJson<LinkCredentials>,
) -> Result<Json<PublicShare>, ApiError> {
    let record = live_share(&state, &link.id, &link.secret).await?;
    state.db.note_share_access(&record.id).await?;
    let prefix = policy::user_prefix(&record.user);
    // Owned, so the futures below borrow nothing (axum handlers are `Send`).
    let available: Vec<(ShareObject, Option<u32>)> = record
        .objects
        .iter()
        .filter(|object| !object.deleted)
        .map(|object| (object.clone(), record.downloads_left(object)))
        .collect();
    let files: Vec<Option<PublicSharedFile>> = stream::iter(available)
        .map(|(object, downloads_left)| {
            let (state, id, prefix) = (state.clone(), record.id.clone(), prefix.clone());
            async move {
                let Some(head) = pinned_head(&state, &id, &object).await? else {
                    return Ok::<_, ApiError>(None);
                };
                let info = object_info(&object.key, &prefix, &head);
                Ok(Some(PublicSharedFile {
                    index: object.position,
                    name: file_name(&object.key).to_owned(),
                    size: info.size,
                    mode: info.encryption.mode(),
                    downloads_left,
                }))
            }
        })
        .buffered(HEAD_CONCURRENCY)
        .try_collect()
        .await?;
    let files: Vec<PublicSharedFile> = files.into_iter().flatten().collect();
    if files.is_empty() {
        return Err(ApiError::Gone(ShareStatus::Deleted.explanation().into()));
    }
    let summary = record.summary();
    Ok(Json(PublicShare {
        sender: record.user,
        note: record.note,
        expires_at: summary.expires_at,
        files,
    }))
}

/// `POST /api/v1/public/share/open` (no account needed)
#[utoipa::path(post, path = routes::PUBLIC_SHARE_OPEN, tag = "public",
    request_body = OpenShareRequest,
    responses((status = 200, description = "A presigned download and, for CSE, the data key; one download counted", body = OpenObjectResponse),
        Failures))]
pub async fn open(
    State(state): State<AppState>,
    _caller: PublicCaller,
    ApiJson(request): ApiJson<OpenShareRequest>,
) -> Result<Json<OpenObjectResponse>, ApiError> {
    let record = live_share(&state, &request.id, &request.secret).await?;
    let object = record
        .objects
        .iter()
        .find(|object| object.position == request.file)
        .ok_or_else(|| ApiError::NotFound("this link has no such file".into()))?;
    let result = open_shared(&state, &record, object).await;
    let kms_key_id = result.as_ref().ok().and_then(|(_, id)| id.as_deref());
    state.audit.record_link(
        &record.user,
        &record.id,
        Action::OpenShared,
        &object.key,
        kms_key_id,
        &result,
    );
    result.map(|(response, _)| Json(response))
}

async fn open_shared(
    state: &AppState,
    record: &ShareRecord,
    object: &ShareObject,
) -> Result<(OpenObjectResponse, Option<String>), ApiError> {
    let gone = |why: &str| ApiError::Gone(why.into());
    if object.deleted {
        return Err(gone(
            "this file was deleted or replaced since it was shared",
        ));
    }
    if record.downloads_left(object) == Some(0) {
        return Err(gone("this file's download limit has been reached"));
    }
    let head = pinned_head(state, &record.id, object)
        .await?
        .ok_or_else(|| gone("this file was deleted or replaced since it was shared"))?;
    let opened = open_object(state, &record.user, &object.key, &head).await?;
    // Counted last: only a download that is about to be handed out counts,
    // and of racing ones only as many as are left.
    if !state
        .db
        .count_share_download(&record.id, object.position)
        .await?
    {
        return Err(gone("this file's download limit has been reached"));
    }
    Ok(opened)
}

/// The object as storage has it now, if it is still the one that was shared
/// (same ETag); a deleted or replaced object is retired from the share.
async fn pinned_head(
    state: &AppState,
    share: &str,
    object: &ShareObject,
) -> Result<Option<ObjectHead>, ApiError> {
    match state.storage.head(&object.key).await? {
        Some(head) if head.etag.as_deref() == Some(object.etag.as_str()) => Ok(Some(head)),
        _ => {
            state
                .db
                .retire_shared_object(share, object.position)
                .await?;
            Ok(None)
        }
    }
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}
