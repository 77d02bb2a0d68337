//! Listing, inspecting, opening (for download) and deleting objects.
//!
//! Opening a client-side encrypted object is where the broker earns its keep:
//! it parses the stored metadata with the envelope crate, refuses objects whose
//! key is bound to another object key, unwraps the data key with the key id
//! pinned, and checks the V3 key commitment before handing the key out — a
//! modified message ID, commitment, wrapped key or context never yields a key.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use futures::stream::{self, StreamExt, TryStreamExt};
use sealdrop_api::{
    CseOpen, Decryption, Encryption, ListObjectsQuery, ListObjectsResponse, ObjectInfo,
    ObjectKeyQuery, OpenObjectRequest, OpenObjectResponse, SecretString, routes,
};

use super::describe::{self, object_info};
use crate::audit::Action;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiQuery, Failures};
use crate::policy;
use crate::state::AppState;
use crate::storage::{ObjectHead, StorageError};

/// Longer than any continuation token S3 or the embedded store hands out.
const MAX_CURSOR_LEN: usize = 1024;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
/// HEAD requests in flight while describing a page of objects.
const HEAD_CONCURRENCY: usize = 16;

/// `GET /api/v1/objects`
#[utoipa::path(get, path = routes::OBJECTS, tag = "objects",
    params(ListObjectsQuery),
    responses((status = 200, description = "One page of the caller's objects", body = ListObjectsResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListObjectsQuery>,
) -> Result<Json<ListObjectsResponse>, ApiError> {
    let prefix = policy::user_prefix(&user.name);
    let filter = query.prefix.unwrap_or_default();
    if filter.chars().any(char::is_control) || prefix.len() + filter.len() > policy::MAX_KEY_LEN {
        return Err(ApiError::BadRequest("invalid prefix".into()));
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..={MAX_PAGE}"
        )));
    }
    // A cursor is storage's continuation token, handed out as `next_cursor`;
    // an empty one means "from the start", and one storage does not know is
    // the caller's mistake, not an upstream failure.
    let cursor = query.cursor.filter(|cursor| !cursor.is_empty());
    let bad_cursor =
        || ApiError::BadRequest("invalid cursor: pass the next_cursor of the previous page".into());
    if cursor
        .as_deref()
        .is_some_and(|c| c.len() > MAX_CURSOR_LEN || c.chars().any(char::is_control))
    {
        return Err(bad_cursor());
    }
    let had_cursor = cursor.is_some();
    let (listed, next_cursor) = match state
        .storage
        .list(&format!("{prefix}{filter}"), cursor, limit as i32)
        .await
    {
        Err(StorageError::Upstream { code, .. }) if had_cursor && code == "InvalidArgument" => {
            return Err(bad_cursor());
        }
        listed => listed?,
    };
    // Listings carry no metadata; HEAD each object to tell its encryption mode.
    let objects: Vec<Option<ObjectInfo>> = stream::iter(listed)
        .map(|entry| {
            let state = state.clone();
            let prefix = prefix.clone();
            async move {
                Ok::<_, ApiError>(
                    state
                        .storage
                        .head(&entry.key)
                        .await?
                        .map(|head| object_info(&entry.key, &prefix, &head)),
                )
            }
        })
        .buffered(HEAD_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(Json(ListObjectsResponse {
        // An object deleted between the listing and its HEAD is simply gone.
        objects: objects.into_iter().flatten().collect(),
        next_cursor,
    }))
}

/// `GET /api/v1/objects/info?key=`
#[utoipa::path(get, path = routes::OBJECT_INFO, tag = "objects",
    params(ObjectKeyQuery),
    responses((status = 200, description = "The object, without key material", body = ObjectInfo),
        Failures),
    security(("bearer" = [])))]
pub async fn info(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ObjectKeyQuery>,
) -> Result<Json<ObjectInfo>, ApiError> {
    super::authorize(&state, &user.name, Action::Info, &query.key)?;
    let head = state
        .storage
        .head(&query.key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no object {}", query.key)))?;
    Ok(Json(object_info(
        &query.key,
        &policy::user_prefix(&user.name),
        &head,
    )))
}

/// `POST /api/v1/objects/open`
#[utoipa::path(post, path = routes::OBJECT_OPEN, tag = "objects",
    request_body = OpenObjectRequest,
    responses((status = 200, description = "A presigned download and, for CSE, the data key", body = OpenObjectResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn open(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<OpenObjectRequest>,
) -> Result<Json<OpenObjectResponse>, ApiError> {
    let key = request.key;
    super::authorize(&state, &user.name, Action::Open, &key)?;
    let result = match state.storage.head(&key).await {
        Ok(Some(head)) => open_object(&state, &user.name, &key, &head).await,
        Ok(None) => Err(ApiError::NotFound(format!("no object {key}"))),
        Err(e) => Err(e.into()),
    };
    let kms_key_id = result.as_ref().ok().and_then(|(_, id)| id.as_deref());
    state
        .audit
        .record_result(&user.name, Action::Open, &key, kms_key_id, &result);
    result.map(|(response, _)| Json(response))
}

/// Opens `owner`'s object `key` (as `head` describes it) for download: a
/// presigned GET and, for client-side encryption, the data key, unwrapped
/// with the object's own encryption context and checked against its key
/// commitment. Key operations come out of `owner`'s budget. Also returns the
/// KMS key id, for the audit log.
pub(super) async fn open_object(
    state: &AppState,
    owner: &str,
    key: &str,
    head: &ObjectHead,
) -> Result<(OpenObjectResponse, Option<String>), ApiError> {
    let info = object_info(key, &policy::user_prefix(owner), head);
    let filename = key.rsplit('/').next().unwrap_or(key);

    let Some(metadata) = describe::envelope(head).map_err(|e| {
        ApiError::Integrity(format!(
            "integrity check failed: the object's encryption metadata is invalid: {e}"
        ))
    })?
    else {
        // Server-side encrypted or plain: storage decrypts; no key material
        // here, so the broker's binding is what ties the object to its key.
        state.binding().await?.check(key, head)?;
        let kms_key_id = head.sse_kms_key_id.clone();
        let download = state.storage.presign_get(key, filename).await?;
        return Ok((
            OpenObjectResponse {
                object: info,
                download,
                decryption: Decryption::Storage,
            },
            kms_key_id,
        ));
    };

    if let Err(retry_after) = state.rate.check(owner) {
        return Err(ApiError::RateLimited(retry_after));
    }
    let opened = state.keys.open(&metadata, key).await;
    state.metrics.key_operation("open", opened.is_ok());
    let opened = opened?;
    opened.verify_commitment(&metadata)?;
    let download = state.storage.presign_get(key, filename).await?;
    let mut info = info;
    if let Encryption::CseV3(envelope) | Encryption::CseV2(envelope) = &mut info.encryption {
        // KMS says which key actually unwrapped it; the stored hint may be stale.
        envelope.kms_key_id = Some(opened.key_id.clone());
    }
    Ok((
        OpenObjectResponse {
            object: info,
            download,
            decryption: Decryption::Client(CseOpen {
                data_key: SecretString::new(opened.data_key.to_base64().to_string()),
                metadata: metadata.to_map(),
            }),
        },
        Some(opened.key_id),
    ))
}

/// `DELETE /api/v1/objects?key=`
#[utoipa::path(delete, path = routes::OBJECTS, tag = "objects",
    params(ObjectKeyQuery),
    responses((status = 204, description = "Deleted"),
        Failures),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ObjectKeyQuery>,
) -> Result<StatusCode, ApiError> {
    super::authorize(&state, &user.name, Action::Delete, &query.key)?;
    if state.storage.head(&query.key).await?.is_none() {
        return Err(ApiError::NotFound(format!("no object {}", query.key)));
    }
    let result = state.storage.delete(&query.key).await;
    state
        .audit
        .record_result(&user.name, Action::Delete, &query.key, None, &result);
    result?;
    // Its share links stop serving it (they would refuse it anyway, since a
    // new object under the key has another ETag; this says why in the list).
    state.db.unshare_object(&query.key).await?;
    Ok(StatusCode::NO_CONTENT)
}
