//! Creating uploads and driving multipart uploads.
//!
//! For client-side encryption the broker generates the data key (bound to the
//! object key), the message ID and the commitment, fixes the complete S3EC V3
//! metadata, and signs it into the presigned PUT (or sets it on the multipart
//! upload it creates itself): the client cannot alter it. For SSE-KMS it signs
//! `x-amz-server-side-encryption: aws:kms` and the key id the same way.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sealdrop_api::{
    AbortUploadRequest, CompleteUploadRequest, CompleteUploadResponse, CreateUploadRequest,
    CreateUploadResponse, CseFormat, CseMaterials, MAX_SIGN_BATCH, Mode, PresignedPart,
    SecretString, SignPartsRequest, SignPartsResponse, SseInfo, Transfer, UploadEncryption,
    UploadTarget, routes,
};
use sealdrop_envelope::{EncryptionContext, MetadataError, MetadataMap, PartPlan, TAG_LEN};

use crate::audit::{Action, Outcome};
use crate::auth::{RequestCaller, Uploader};
use crate::binding::BINDING_META;
use crate::error::{ApiError, ApiJson, Failures};
use crate::keys::KMS_KEY_HINT;
use crate::keys::SealedDataKey;
use crate::policy;
use crate::quota::{self, Whose};
use crate::state::AppState;
use crate::storage::{SseKms, UploadHeaders};
use sealdrop_state::{ReservationRefusal, UploadPlan};

/// The folder a name is relative to: the user's prefix, or the request's.
fn upload_prefix(uploader: &Uploader) -> String {
    match uploader {
        Uploader::User(user) => policy::user_prefix(&user.name),
        Uploader::Request(request) => request.prefix.clone(),
    }
}

/// [`super::authorize`] for users; a file request's uploader may only touch
/// keys under the request's folder. Refusals are audited either way.
fn authorize_upload(
    state: &AppState,
    uploader: &Uploader,
    action: Action,
    key: &str,
) -> Result<(), ApiError> {
    match uploader {
        Uploader::User(user) => super::authorize(state, &user.name, action, key).map(drop),
        Uploader::Request(request) if key.starts_with(&request.prefix) => Ok(()),
        Uploader::Request(_) => {
            let refused =
                ApiError::Forbidden("a file request link only uploads into its own folder".into());
            audit::<(), _>(state, uploader, action, key, None, &Err(&refused));
            Err(refused)
        }
    }
}

/// One audit line for an upload action, naming the file request it came
/// through, if any.
fn audit<T, E: std::fmt::Display>(
    state: &AppState,
    uploader: &Uploader,
    action: Action,
    key: &str,
    kms_key_id: Option<&str>,
    result: &Result<T, E>,
) {
    match uploader.link() {
        Some(link) => {
            state
                .audit
                .record_link(uploader.owner(), link, action, key, kms_key_id, result)
        }
        None => state
            .audit
            .record_result(uploader.owner(), action, key, kms_key_id, result),
    }
}

/// Files sent through a request never replace one another: the first free
/// name of `name`, `name (2)`, … is reserved (with one file and `size` bytes
/// of the request's limits) in the shared database.
async fn reserve_in_request(
    state: &AppState,
    caller: &RequestCaller,
    key: &str,
    size: u64,
) -> Result<String, ApiError> {
    const TRIES: u32 = 50;
    let name = &key[caller.prefix.len()..];
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem, format!(".{extension}")),
        _ => (name, String::new()),
    };
    for attempt in 1..=TRIES {
        let candidate = match attempt {
            1 => key.to_owned(),
            n => format!("{}{stem} ({n}){extension}", caller.prefix),
        };
        if state.storage.head(&candidate).await?.is_some() {
            continue;
        }
        match state
            .db
            .reserve_request_upload(&caller.id, &candidate, size)
            .await?
        {
            Ok(()) => return Ok(candidate),
            Err(ReservationRefusal::NameTaken) => continue,
            Err(ReservationRefusal::Ended(status)) => {
                return Err(ApiError::Gone(status.explanation().into()));
            }
            Err(refused) => return Err(ApiError::TooLarge(refused.to_string())),
        }
    }
    Err(ApiError::Conflict(format!(
        "{TRIES} files named like {name} were already sent; rename the file"
    )))
}

/// Parts presigned with the create response; more come from `/uploads/parts`.
const FIRST_PARTS: u32 = 8;
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// `POST /api/v1/uploads`
#[utoipa::path(post, path = routes::UPLOADS, tag = "uploads",
    request_body = CreateUploadRequest,
    responses((status = 200, description = "The upload: presigned requests and, for CSE, the data key", body = CreateUploadResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    uploader: Uploader,
    ApiJson(request): ApiJson<CreateUploadRequest>,
) -> Result<Json<CreateUploadResponse>, ApiError> {
    let owner = uploader.owner().to_owned();
    let key = match (&uploader, &request.target) {
        (Uploader::Request(_), UploadTarget::Name(name)) if name.contains('/') => {
            return Err(ApiError::InvalidName(
                "a file sent through a file request is named without folders".into(),
            ));
        }
        (_, UploadTarget::Name(name)) => format!("{}{name}", upload_prefix(&uploader)),
        (Uploader::User(_), UploadTarget::Key(key)) => key.clone(),
        (Uploader::Request(_), UploadTarget::Key(_)) => {
            return Err(ApiError::Forbidden(
                "a file request link uploads by name, into its own folder".into(),
            ));
        }
    };
    authorize_upload(&state, &uploader, Action::CreateUpload, &key)?;
    let name = key
        .strip_prefix(&policy::user_prefix(&owner))
        .unwrap_or(&key)
        .to_owned();
    policy::validate_new_name(&name, key.len() - name.len())?;
    let content_type = request
        .content_type
        .clone()
        .filter(|ct| !ct.is_empty())
        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
    policy::validate_content_type(&content_type)?;
    if request.size > state.config.max_object_size {
        return Err(ApiError::TooLarge(format!(
            "{} bytes is over this broker's limit of {} bytes",
            request.size, state.config.max_object_size
        )));
    }
    if let Err(retry_after) = state.rate.check(&owner) {
        state.audit.record(
            &owner,
            Action::CreateUpload,
            &key,
            None,
            Outcome::Denied,
            Some("rate limited"),
        );
        return Err(ApiError::RateLimited(retry_after));
    }
    let key = match &uploader {
        Uploader::Request(caller) => {
            if request.overwrite {
                return Err(ApiError::Forbidden(
                    "a file request link cannot replace files".into(),
                ));
            }
            reserve_in_request(&state, caller, &key, request.size).await?
        }
        Uploader::User(_) => {
            if !request.overwrite && state.storage.head(&key).await?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "{name} already exists; upload with overwrite to replace it"
                )));
            }
            key
        }
    };

    let result = match request.mode {
        Mode::Cse => create_cse(&state, &uploader, &key, &request, content_type).await,
        Mode::Sse => create_sse(&state, &uploader, &key, &request, content_type).await,
    };
    if result.is_err() && uploader.link().is_some() {
        state.db.release_request_upload(&key).await?;
    }
    audit(
        &state,
        &uploader,
        Action::CreateUpload,
        &key,
        Some(state.keys.key_id()),
        &result,
    );
    if result.is_ok() {
        state.metrics.upload_created(match request.mode {
            Mode::Cse => "cse",
            Mode::Sse => "sse",
        });
    }
    result.map(Json)
}

async fn create_cse(
    state: &AppState,
    uploader: &Uploader,
    key: &str,
    request: &CreateUploadRequest,
    content_type: String,
) -> Result<CreateUploadResponse, ApiError> {
    let generated = state.keys.generate(key).await;
    state.metrics.key_operation("generate", generated.is_ok());
    // The message ID is move-only: the metadata keeps it, the client gets its
    // encoding and encrypts with the one the metadata commits to.
    let SealedDataKey {
        data_key,
        message_id: encoded_message_id,
        envelope,
        key_id,
    } = generated?.seal_v3()?;
    let mut metadata = MetadataMap::new();
    metadata.insert(KMS_KEY_HINT.to_owned(), key_id.clone());
    envelope.write_into(&mut metadata).map_err(|e| match e {
        MetadataError::TooLarge { .. } => ApiError::InvalidName(format!(
            "the name is too long to fit the encryption metadata: {e}"
        )),
        other => ApiError::Internal(other.to_string()),
    })?;

    let stored_size = request.size + TAG_LEN as u64;
    let headers = UploadHeaders {
        content_type,
        metadata: metadata.clone(),
        sse: None,
    };
    let transfer = transfer(state, uploader, key, request.size, stored_size, &headers).await?;
    let encryption_context: BTreeMap<String, String> = EncryptionContext::for_object(key)
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Ok(CreateUploadResponse {
        key: key.to_owned(),
        size: request.size,
        stored_size,
        transfer,
        encryption: UploadEncryption::Cse(CseMaterials {
            format: CseFormat::V3,
            data_key: SecretString::new(data_key.to_base64().to_string()),
            message_id: encoded_message_id,
            kms_key_id: key_id,
            encryption_context,
            metadata: envelope.to_map().into_iter().collect(),
        }),
    })
}

async fn create_sse(
    state: &AppState,
    uploader: &Uploader,
    key: &str,
    request: &CreateUploadRequest,
    content_type: String,
) -> Result<CreateUploadResponse, ApiError> {
    let kms_key_id = state.keys.key_id().to_owned();
    // Signed into the upload like the SSE headers: the object is bound to
    // its key and size (see `binding`).
    let binding = state.binding().await?.tag(key, request.size);
    let headers = UploadHeaders {
        content_type,
        metadata: BTreeMap::from([(BINDING_META.to_owned(), binding)]),
        sse: Some(SseKms {
            key_id: kms_key_id.clone(),
        }),
    };
    let transfer = transfer(state, uploader, key, request.size, request.size, &headers).await?;
    Ok(CreateUploadResponse {
        key: key.to_owned(),
        size: request.size,
        stored_size: request.size,
        transfer,
        encryption: UploadEncryption::Sse(SseInfo { kms_key_id }),
    })
}

/// A single presigned PUT below the threshold; otherwise a multipart upload the
/// broker creates itself (so its headers are fixed), with the first parts signed.
/// Either is recorded against the owner's quotas before anything is signed,
/// and withdrawn if it does not fit.
async fn transfer(
    state: &AppState,
    uploader: &Uploader,
    key: &str,
    size: u64,
    stored_size: u64,
    headers: &UploadHeaders,
) -> Result<Transfer, ApiError> {
    let user = uploader.owner();
    let whose = match uploader {
        Uploader::User(_) => Whose::Own,
        Uploader::Request(_) => Whose::Recipient,
    };
    if stored_size < state.config.multipart_threshold {
        let put = state
            .db
            .record_pending_put(key, user, stored_size, state.config.presign_ttl())
            .await?;
        if let Err(refused) = quota::verify(state, user, whose).await {
            state.db.forget_pending_puts(&[put]).await?;
            return Err(refused);
        }
        return Ok(Transfer::Single {
            request: state.storage.presign_put(key, stored_size, headers).await?,
        });
    }
    let plan = plan(state, size)?;
    let stored = UploadPlan::new(key, user, stored_size, plan.part_size(), plan.part_count())
        .ok_or_else(|| ApiError::Internal("the part layout does not cover the object".into()))?;
    let upload_id = state.storage.create_multipart(key, headers).await?;
    // Remembered before any part is signed: every later part URL, on any
    // replica, is signed from this record.
    let recorded = match state.db.record_upload(&upload_id, &stored).await {
        Ok(()) => quota::verify(state, user, whose).await,
        Err(e) => Err(e.into()),
    };
    if let Err(refused) = recorded {
        let _ = state.storage.abort_multipart(key, &upload_id).await;
        state.db.forget_upload(&upload_id).await?;
        return Err(refused);
    }
    let first = plan.part_count().min(FIRST_PARTS);
    let mut parts = Vec::with_capacity(first as usize);
    for number in 1..=first {
        parts.push(signed_part(state, &stored, &upload_id, number).await?);
    }
    Ok(Transfer::Multipart {
        upload_id,
        part_size: plan.part_size(),
        part_count: plan.part_count(),
        parts,
    })
}

/// The part layout: the configured part size, grown if the object would need
/// more than S3's 10,000 parts.
fn plan(state: &AppState, size: u64) -> Result<PartPlan, ApiError> {
    PartPlan::at_least(size, state.config.part_size).map_err(|e| ApiError::TooLarge(e.to_string()))
}

/// `POST /api/v1/uploads/parts`
#[utoipa::path(post, path = routes::UPLOAD_PARTS, tag = "uploads",
    request_body = SignPartsRequest,
    responses((status = 200, description = "Presigned parts", body = SignPartsResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn sign_parts(
    State(state): State<AppState>,
    uploader: Uploader,
    ApiJson(request): ApiJson<SignPartsRequest>,
) -> Result<Json<SignPartsResponse>, ApiError> {
    authorize_upload(&state, &uploader, Action::SignParts, &request.key)?;
    validate_upload_id(&request.upload_id)?;
    if request.part_numbers.is_empty() || request.part_numbers.len() > MAX_SIGN_BATCH as usize {
        return Err(ApiError::BadRequest(format!(
            "sign between 1 and {MAX_SIGN_BATCH} parts per request"
        )));
    }
    let plan = planned_upload(&state, &request.key, &request.upload_id).await?;
    state.db.touch_upload(&request.upload_id).await?;
    if let Some(bad) = request
        .part_numbers
        .iter()
        .find(|&&n| plan.part_len(n).is_none())
    {
        return Err(ApiError::BadRequest(format!(
            "part number {bad} is outside this upload's parts 1..={}",
            plan.part_count()
        )));
    }
    let mut parts = Vec::with_capacity(request.part_numbers.len());
    for &number in &request.part_numbers {
        parts.push(signed_part(&state, &plan, &request.upload_id, number).await?);
    }
    Ok(Json(SignPartsResponse { parts }))
}

/// The plan of an upload of `key` in flight: unknown ids, and ids of another
/// object, are the same 404.
async fn planned_upload(
    state: &AppState,
    key: &str,
    upload_id: &str,
) -> Result<UploadPlan, ApiError> {
    state
        .db
        .upload_plan(upload_id)
        .await?
        .filter(|plan| plan.key == key)
        .ok_or_else(|| ApiError::NotFound("no such upload in progress for this key".into()))
}

/// Part `number` of `plan`, presigned for exactly its planned length.
async fn signed_part(
    state: &AppState,
    plan: &UploadPlan,
    upload_id: &str,
    number: u32,
) -> Result<PresignedPart, ApiError> {
    let len = plan.part_len(number).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "part number {number} is outside this upload's parts 1..={}",
            plan.part_count()
        ))
    })?;
    Ok(PresignedPart {
        part_number: number,
        request: state
            .storage
            .presign_part(&plan.key, upload_id, number, len)
            .await?,
    })
}

/// `POST /api/v1/uploads/complete`
#[utoipa::path(post, path = routes::UPLOAD_COMPLETE, tag = "uploads",
    request_body = CompleteUploadRequest,
    responses((status = 200, description = "The assembled object", body = CompleteUploadResponse),
        Failures),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    uploader: Uploader,
    ApiJson(request): ApiJson<CompleteUploadRequest>,
) -> Result<Json<CompleteUploadResponse>, ApiError> {
    authorize_upload(&state, &uploader, Action::Complete, &request.key)?;
    validate_upload_id(&request.upload_id)?;
    if request.parts.is_empty() || request.parts.len() > sealdrop_envelope::MAX_PARTS as usize {
        return Err(ApiError::BadRequest(
            "a multipart upload has 1 to 10000 parts".into(),
        ));
    }
    if !request
        .parts
        .windows(2)
        .all(|w| w[0].part_number < w[1].part_number)
    {
        return Err(ApiError::BadRequest(
            "parts must be in ascending order".into(),
        ));
    }
    let parts: Vec<(u32, String)> = request
        .parts
        .iter()
        .map(|p| (p.part_number, p.etag.clone()))
        .collect();
    let result = complete_within_limit(&state, &request.key, &request.upload_id, &parts).await;
    if result.is_ok() {
        state.db.forget_upload(&request.upload_id).await?;
        state.db.settle_request_upload(&request.key).await?;
    }
    audit(
        &state,
        &uploader,
        Action::Complete,
        &request.key,
        None,
        &result,
    );
    Ok(Json(CompleteUploadResponse {
        key: request.key,
        etag: result?,
    }))
}

/// Completes the upload, then enforces the size limit: part URLs are signed one
/// by one (their number and sizes are up to the client), so the assembled
/// object is checked, and removed if it is over the limit.
async fn complete_within_limit(
    state: &AppState,
    key: &str,
    upload_id: &str,
    parts: &[(u32, String)],
) -> Result<String, ApiError> {
    let etag = state
        .storage
        .complete_multipart(key, upload_id, parts)
        .await?;
    let limit = state.config.max_object_size + TAG_LEN as u64;
    let size = state.storage.head(key).await?.map_or(0, |head| head.size);
    if size > limit {
        state.storage.delete(key).await?;
        return Err(ApiError::TooLarge(format!(
            "the parts add up to {size} bytes, over this broker's limit of {limit} stored \
             bytes; the object was removed"
        )));
    }
    Ok(etag)
}

/// `POST /api/v1/uploads/abort`
#[utoipa::path(post, path = routes::UPLOAD_ABORT, tag = "uploads",
    request_body = AbortUploadRequest,
    responses((status = 204, description = "Aborted; its parts are gone"),
        Failures),
    security(("bearer" = [])))]
pub async fn abort(
    State(state): State<AppState>,
    uploader: Uploader,
    ApiJson(request): ApiJson<AbortUploadRequest>,
) -> Result<StatusCode, ApiError> {
    authorize_upload(&state, &uploader, Action::Abort, &request.key)?;
    validate_upload_id(&request.upload_id)?;
    // Only an upload still in progress gives its file request reservation
    // back; a completed one (its plan forgotten) keeps counting.
    let in_progress = state
        .db
        .upload_plan(&request.upload_id)
        .await?
        .is_some_and(|plan| plan.key == request.key);
    let result = state
        .storage
        .abort_multipart(&request.key, &request.upload_id)
        .await;
    audit(
        &state,
        &uploader,
        Action::Abort,
        &request.key,
        None,
        &result,
    );
    result?;
    state.db.forget_upload(&request.upload_id).await?;
    // A file request's reservation is given back: the file was never stored.
    if in_progress {
        state.db.release_request_upload(&request.key).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn validate_upload_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("invalid upload id".into()));
    }
    Ok(())
}
