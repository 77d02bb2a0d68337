//! [`Client`]: the connection to one broker as one user, and the typed calls of
//! the broker's JSON API (one method per call of [`sealdrop_transfer::calls`],
//! which decides method, route, body and whether a call is repeated).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Response};
use sealdrop_api::{
    AbortUploadRequest, CompleteUploadRequest, CompleteUploadResponse, CreateUploadRequest,
    CreateUploadResponse, ListObjectsQuery, ListObjectsResponse, Me, ObjectInfo, OpenObjectRequest,
    OpenObjectResponse, SignPartsRequest, SignPartsResponse,
};
use sealdrop_api::{
    CloseFileRequest, CreateFileRequest, CreateFileRequestResponse, CreateShareRequest,
    CreateShareResponse, ListFileRequestsResponse, ListSharesResponse, PublicFileRequest,
    PublicShare, RevokeShareRequest,
};
use sealdrop_transfer::calls::{self, Answer, Call};
use sealdrop_transfer::{Failure, RetryPolicy};
use sealdrop_transfer::{RequestLink, ShareLink};
use serde::Serialize;
use tokio::task::JoinSet;
use zeroize::Zeroizing;

use crate::error::{Endpoint, Error};
use crate::retry;

/// How uploads and downloads use the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferConfig {
    /// Multipart parts uploading at once. Memory is about this many parts
    /// (the broker's part size each), since every part in flight is kept
    /// until storage acknowledges it, to be re-sent unchanged if needed.
    pub parts_in_flight: usize,
    /// Part URLs to presign per `/uploads/parts` call (at most the API's
    /// 100), asked for only when the next part needs one, so URLs are fresh
    /// when used.
    pub sign_batch: u32,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            parts_in_flight: 4,
            sign_batch: 16,
            retry: RetryPolicy::default(),
        }
    }
}

/// How long a broker API call may take in total. Calls are small; the slow
/// ones wait for KMS.
const API_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A client of one sealdrop broker, acting as the user its token names.
///
/// Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    base: Arc<str>,
    /// `None` for a client of the public routes only (share links).
    authorization: Option<HeaderValue>,
    pub(crate) transfer: TransferConfig,
    /// Aborts of multipart uploads whose future was dropped mid-way; see
    /// [`Client::finish_pending_aborts`].
    pub(crate) pending_aborts: Arc<Mutex<JoinSet<()>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("transfer", &self.transfer)
            .finish_non_exhaustive()
    }
}

/// Methods of [`Client`] that send one call of [`calls`] each, under the call's own name and
/// with its arguments: the call decides method, route, body and repetition; the method only
/// sends it.
macro_rules! broker_calls {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $arg_type:ty),*) -> $output:ty;)*) => {$(
        $(#[$doc])*
        pub async fn $name(&self, $($arg: $arg_type),*) -> Result<$output, Error> {
            self.call(calls::$name($($arg),*)).await
        }
    )*};
}

impl Client {
    /// A client of the broker at `base_url` (e.g. `https://files.example.com`;
    /// a path prefix is kept) using the API token `token`.
    pub fn new(base_url: &str, token: &str) -> Result<Client, Error> {
        if token.is_empty() {
            return Err(Error::Config("the API token is empty".into()));
        }
        let bearer = Zeroizing::new(format!("Bearer {token}"));
        let mut authorization = HeaderValue::from_str(&bearer)
            .map_err(|_| Error::Config("the API token contains invalid characters".into()))?;
        authorization.set_sensitive(true);
        Client::with_authorization(base_url, Some(authorization))
    }

    /// A client of the broker at `base_url` with no credentials, for what a
    /// share link's recipient does ([`Client::describe_share`],
    /// [`Client::download_shared`]); other calls answer 401.
    pub fn anonymous(base_url: &str) -> Result<Client, Error> {
        Client::with_authorization(base_url, None)
    }

    fn with_authorization(
        base_url: &str,
        authorization: Option<HeaderValue>,
    ) -> Result<Client, Error> {
        let url = reqwest::Url::parse(base_url)
            .map_err(|e| Error::Config(format!("broker URL {base_url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "broker URL {base_url:?} must start with http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("sealdrop-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot set up HTTP: {e}")))?;
        Ok(Client {
            http,
            base: url.as_str().trim_end_matches('/').into(),
            authorization,
            transfer: TransferConfig::default(),
            pending_aborts: Arc::default(),
        })
    }

    /// The same client with other transfer settings.
    pub fn with_transfer_config(mut self, config: TransferConfig) -> Client {
        self.transfer = config;
        self
    }

    /// The transfer settings in use.
    pub fn transfer_config(&self) -> TransferConfig {
        self.transfer
    }

    broker_calls! {
        /// `GET /api/v1/me`: who the token belongs to, and the upload limits.
        me() -> Me;

        /// `POST /api/v1/uploads`: starts an upload. The response carries the
        /// plaintext data key for client-side encryption: zeroize it after use
        /// (the upload methods do).
        create_upload(request: &CreateUploadRequest) -> CreateUploadResponse;

        /// `POST /api/v1/uploads/parts`: presigns more parts of a multipart upload.
        sign_parts(request: &SignPartsRequest) -> SignPartsResponse;

        /// `POST /api/v1/uploads/complete`: assembles the uploaded parts.
        complete_upload(request: &CompleteUploadRequest) -> CompleteUploadResponse;

        /// `POST /api/v1/uploads/abort`: discards a multipart upload and its parts.
        abort_upload(request: &AbortUploadRequest) -> ();

        /// `GET /api/v1/objects`: one page of the user's objects.
        list_objects(query: &ListObjectsQuery) -> ListObjectsResponse;

        /// `GET /api/v1/objects/info`: what an object is, without key material.
        object_info(key: &str) -> ObjectInfo;

        /// `DELETE /api/v1/objects?key=`: deletes an object.
        delete_object(key: &str) -> ();

        /// `POST /api/v1/shares`: makes a share link of the caller's objects.
        create_share(request: &CreateShareRequest) -> CreateShareResponse;

        /// `GET /api/v1/shares`: the caller's share links.
        list_shares() -> ListSharesResponse;

        /// `POST /api/v1/shares/revoke`: ends a share link.
        revoke_share(request: &RevokeShareRequest) -> ();

        /// `POST /api/v1/requests`: makes a file request link.
        create_file_request(request: &CreateFileRequest) -> CreateFileRequestResponse;

        /// `GET /api/v1/requests`: the caller's file requests.
        list_file_requests() -> ListFileRequestsResponse;

        /// `POST /api/v1/requests/close`: stops a file request taking files.
        close_file_request(request: &CloseFileRequest) -> ();
    }

    /// A client that uploads through the file request `link` (no token
    /// needed): the upload methods put new files into the request's folder.
    pub fn for_file_request(link: &RequestLink) -> Result<Client, Error> {
        Client::new(link.base(), &link.bearer())
    }

    /// `POST /api/v1/public/request`: what a file request link still takes.
    pub async fn describe_file_request(
        &self,
        link: &RequestLink,
    ) -> Result<PublicFileRequest, Error> {
        self.call(calls::describe_file_request(&link.credentials()))
            .await
    }

    /// `POST /api/v1/public/share`: what a share link holds (no token needed).
    pub async fn describe_share(&self, link: &ShareLink) -> Result<PublicShare, Error> {
        self.call(calls::describe_share(&link.credentials())).await
    }

    /// Every object whose name starts with `prefix` (relative to the user's
    /// prefix), following the pagination to the end.
    pub async fn list_all(&self, prefix: Option<&str>) -> Result<Vec<ObjectInfo>, Error> {
        let mut query = ListObjectsQuery {
            prefix: prefix.map(str::to_owned),
            ..ListObjectsQuery::default()
        };
        let mut objects = Vec::new();
        loop {
            let page = self.list_objects(&query).await?;
            objects.extend(page.objects);
            match page.next_cursor {
                // A cursor that does not move would loop forever.
                Some(cursor) if query.cursor.as_ref() != Some(&cursor) => {
                    query.cursor = Some(cursor);
                }
                Some(_) => return Err(Error::Protocol("the listing cursor repeats".into())),
                None => return Ok(objects),
            }
        }
    }

    /// `POST /api/v1/objects/open`: a presigned download and, for client-side
    /// encrypted objects, the data key (zeroize it after use; the download
    /// methods do).
    pub async fn open_object(&self, key: &str) -> Result<OpenObjectResponse, Error> {
        let request = OpenObjectRequest {
            key: key.to_owned(),
        };
        self.call(calls::open_object(&request)).await
    }

    /// Waits for the aborts of multipart uploads that were cancelled by
    /// dropping their future (a dropped future cannot await its own cleanup,
    /// so it is scheduled on the runtime). Call before the runtime shuts down,
    /// e.g. after cancelling an upload on Ctrl-C.
    pub async fn finish_pending_aborts(&self) {
        let mut pending = match self.pending_aborts.lock() {
            Ok(mut set) => std::mem::take(&mut *set),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        while pending.join_next().await.is_some() {}
    }

    /// Sends an authenticated API call (repeated as the call allows) and
    /// reads the answer. The body of a successful response is kept in a buffer
    /// that is zeroized on drop, since some responses carry data keys.
    pub(crate) async fn call<B: Serialize, R: Answer>(
        &self,
        call: Call<'_, B, R>,
    ) -> Result<R, Error> {
        let url = format!("{}{}", self.base, call.path_and_query());
        let method = match call.method() {
            calls::Method::Get => Method::GET,
            calls::Method::Post => Method::POST,
            calls::Method::Delete => Method::DELETE,
        };
        let what = format!("{} {}", method, call.route());
        let body = call.json_body()?;
        let answer = retry::run(&self.transfer.retry, call.idempotence(), &what, |_| {
            let mut request = self.http.request(method.clone(), &url).timeout(API_TIMEOUT);
            if let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.clone());
            }
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            async move {
                let response = request
                    .send()
                    .await
                    .map_err(|e| Error::network(Endpoint::Broker, e))?;
                read_api_response(response).await
            }
        })
        .await?;
        Ok(call.parse(&answer)?)
    }
}

async fn read_api_response(mut response: Response) -> Result<Zeroizing<Vec<u8>>, Error> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::network(Endpoint::Broker, e))?
    {
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        return Ok(body);
    }
    Err(Failure::broker(status.as_u16(), &body, retry_after.as_deref()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unusable_configuration() {
        assert!(matches!(Client::new("ftp://x", "t"), Err(Error::Config(_))));
        assert!(matches!(
            Client::new("not a url", "t"),
            Err(Error::Config(_))
        ));
        assert!(matches!(Client::new("http://x", ""), Err(Error::Config(_))));
        assert!(matches!(
            Client::new("http://x", "a\nb"),
            Err(Error::Config(_))
        ));
        let client = Client::new("http://127.0.0.1:9/prefix/", "t").unwrap();
        assert_eq!(&*client.base, "http://127.0.0.1:9/prefix");
        // The token never shows in debug output.
        assert!(!format!("{client:?}").contains("Bearer"));
    }
}
