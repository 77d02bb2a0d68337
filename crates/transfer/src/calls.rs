//! The calls of the broker's JSON API, as both clients make them: for each
//! route, the method, what is sent (query or JSON body), what comes back and
//! whether the call may be repeated after a failure whose effect is unknown.
//!
//! A client turns a [`Call`] into an HTTP request with its own machinery
//! (reqwest, `fetch`), repeats it under [`crate::RetryPolicy`] with
//! [`Call::idempotence`], and reads a successful answer with [`Call::parse`].
//! Adding an endpoint means a route in `sealdrop_api::routes`, a handler in the
//! broker, and one constructor here; neither client decides any of it again.

use std::marker::PhantomData;

use sealdrop_api::{
    AbortUploadRequest, CompleteUploadRequest, CompleteUploadResponse, CreateUploadRequest,
    CreateUploadResponse, ListObjectsQuery, ListObjectsResponse, Me, ObjectInfo, OpenObjectRequest,
    OpenObjectResponse, PublicConfig, SignPartsRequest, SignPartsResponse, routes,
};
use sealdrop_api::{
    CloseFileRequest, CreateFileRequest, CreateFileRequestResponse, CreateShareRequest,
    CreateShareResponse, LinkCredentials, ListFileRequestsResponse, ListSharesResponse,
    OpenShareRequest, PublicFileRequest, PublicShare, RevokeShareRequest,
};
use serde::Serialize;

use crate::retry::Idempotence;

/// The HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A request that could not be written, or an answer that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request body did not serialize (a client bug).
    #[error("{route}: the request could not be written: {source}")]
    Request {
        /// The route called.
        route: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A successful answer that is not what the route returns.
    #[error("{route} answered with unexpected JSON: {source}")]
    Answer {
        /// The route called.
        route: &'static str,
        /// What serde said.
        source: serde_json::Error,
    },
}

/// One call of the API: request `B` (borrowed; `()` when there is no body),
/// answer `R` (`()` for `204 No Content`).
#[must_use = "a call does nothing until a client sends it"]
pub struct Call<'a, B, R> {
    method: Method,
    route: &'static str,
    query: Option<String>,
    body: Option<&'a B>,
    idempotence: Idempotence,
    answer: PhantomData<fn() -> R>,
}

/// How an answer is read: JSON for routes that return a document, nothing
/// for those that answer `204`.
pub trait Answer: Sized {
    /// Reads a successful answer's body.
    fn parse(body: &[u8]) -> Result<Self, serde_json::Error>;
}

/// Answer types with a JSON body.
macro_rules! json_answers {
    ($($t:ty),* $(,)?) => {$(
        impl Answer for $t {
            fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
                serde_json::from_slice(body)
            }
        }
    )*};
}
json_answers!(
    PublicConfig,
    Me,
    CreateUploadResponse,
    SignPartsResponse,
    CompleteUploadResponse,
    ListObjectsResponse,
    ObjectInfo,
    OpenObjectResponse,
    CreateShareResponse,
    ListSharesResponse,
    PublicShare,
    CreateFileRequestResponse,
    ListFileRequestsResponse,
    PublicFileRequest,
);

/// `204 No Content`: whatever body came is ignored.
impl Answer for () {
    fn parse(_: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(())
    }
}

impl<'a, B: Serialize, R: Answer> Call<'a, B, R> {
    fn new(method: Method, route: &'static str, idempotence: Idempotence) -> Self {
        Call {
            method,
            route,
            query: None,
            body: None,
            idempotence,
            answer: PhantomData,
        }
    }

    fn json(mut self, body: &'a B) -> Self {
        self.body = Some(body);
        self
    }

    fn query<'q>(mut self, pairs: impl IntoIterator<Item = (&'q str, &'q str)>) -> Self {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(pairs);
        let query = query.finish();
        self.query = (!query.is_empty()).then_some(query);
        self
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The route, without the query (for messages and logs).
    pub fn route(&self) -> &'static str {
        self.route
    }

    /// Path and query, to append to the broker's base URL.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.route),
            None => self.route.to_owned(),
        }
    }

    /// The JSON body, if the call sends one (`Content-Type: application/json`).
    pub fn json_body(&self) -> Result<Option<String>, CallError> {
        self.body
            .map(serde_json::to_string)
            .transpose()
            .map_err(|source| CallError::Request {
                route: self.route,
                source,
            })
    }

    /// Whether a failure of unknown effect may be followed by the same call.
    pub fn idempotence(&self) -> Idempotence {
        self.idempotence
    }

    /// Reads the body of a successful (2xx) answer.
    pub fn parse(&self, body: &[u8]) -> Result<R, CallError> {
        R::parse(body).map_err(|source| CallError::Answer {
            route: self.route,
            source,
        })
    }
}

/// `GET /config`: what the app needs before sign-in (no token needed).
pub fn public_config() -> Call<'static, (), PublicConfig> {
    Call::new(Method::Get, routes::CONFIG, Idempotence::Idempotent)
}

/// `GET /me`: who the token belongs to, and the upload limits.
pub fn me() -> Call<'static, (), Me> {
    Call::new(Method::Get, routes::ME, Idempotence::Idempotent)
}

/// `POST /uploads`: starts an upload. Not repeated after an ambiguous
/// failure: each call creates a multipart upload that would be left behind.
pub fn create_upload(
    request: &CreateUploadRequest,
) -> Call<'_, CreateUploadRequest, CreateUploadResponse> {
    Call::new(Method::Post, routes::UPLOADS, Idempotence::Unsafe).json(request)
}

/// `POST /uploads/parts`: presigns more parts (signing again is harmless).
pub fn sign_parts(request: &SignPartsRequest) -> Call<'_, SignPartsRequest, SignPartsResponse> {
    Call::new(Method::Post, routes::UPLOAD_PARTS, Idempotence::Idempotent).json(request)
}

/// `POST /uploads/complete`: assembles the parts. Not repeated blindly: a
/// completion that did happen makes the repeat fail (the upload is gone),
/// so the client must look at the object instead.
pub fn complete_upload(
    request: &CompleteUploadRequest,
) -> Call<'_, CompleteUploadRequest, CompleteUploadResponse> {
    Call::new(Method::Post, routes::UPLOAD_COMPLETE, Idempotence::Unsafe).json(request)
}

/// `POST /uploads/abort`: discards a multipart upload and its parts; aborting
/// twice is the same as once.
pub fn abort_upload(request: &AbortUploadRequest) -> Call<'_, AbortUploadRequest, ()> {
    Call::new(Method::Post, routes::UPLOAD_ABORT, Idempotence::Idempotent).json(request)
}

/// `GET /objects`: one page of the user's objects.
pub fn list_objects(query: &ListObjectsQuery) -> Call<'static, (), ListObjectsResponse> {
    let limit = query.limit.map(|limit| limit.to_string());
    let pairs = [
        ("prefix", query.prefix.as_deref()),
        ("cursor", query.cursor.as_deref()),
        ("limit", limit.as_deref()),
    ];
    Call::new(Method::Get, routes::OBJECTS, Idempotence::Idempotent).query(
        pairs
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    )
}

/// `GET /objects/info?key=`: what an object is, without key material.
pub fn object_info(key: &str) -> Call<'static, (), ObjectInfo> {
    Call::new(Method::Get, routes::OBJECT_INFO, Idempotence::Idempotent).query([("key", key)])
}

/// `POST /objects/open`: a presigned download and, for client-side encrypted
/// objects, the data key. Repeating it only presigns and unwraps again.
pub fn open_object(request: &OpenObjectRequest) -> Call<'_, OpenObjectRequest, OpenObjectResponse> {
    Call::new(Method::Post, routes::OBJECT_OPEN, Idempotence::Idempotent).json(request)
}

/// `DELETE /objects?key=`: deletes an object; deleting twice is the same as once.
pub fn delete_object(key: &str) -> Call<'static, (), ()> {
    Call::new(Method::Delete, routes::OBJECTS, Idempotence::Idempotent).query([("key", key)])
}

/// `POST /shares`: makes a share link. Not repeated after an ambiguous
/// failure: each call makes another link.
pub fn create_share(
    request: &CreateShareRequest,
) -> Call<'_, CreateShareRequest, CreateShareResponse> {
    Call::new(Method::Post, routes::SHARES, Idempotence::Unsafe).json(request)
}

/// `GET /shares`: the caller's share links.
pub fn list_shares() -> Call<'static, (), ListSharesResponse> {
    Call::new(Method::Get, routes::SHARES, Idempotence::Idempotent)
}

/// `POST /shares/revoke`: revoking twice is the same as once.
pub fn revoke_share(request: &RevokeShareRequest) -> Call<'_, RevokeShareRequest, ()> {
    Call::new(Method::Post, routes::SHARE_REVOKE, Idempotence::Idempotent).json(request)
}

/// `POST /public/share` (no credentials): what a share link holds.
pub fn describe_share(link: &LinkCredentials) -> Call<'_, LinkCredentials, PublicShare> {
    Call::new(Method::Post, routes::PUBLIC_SHARE, Idempotence::Idempotent).json(link)
}

/// `POST /public/share/open` (no credentials): one file of a share link. Not
/// repeated after an ambiguous failure: an open that did happen counted a
/// download, and a limited link would lose another.
pub fn open_share(request: &OpenShareRequest) -> Call<'_, OpenShareRequest, OpenObjectResponse> {
    Call::new(Method::Post, routes::PUBLIC_SHARE_OPEN, Idempotence::Unsafe).json(request)
}

/// `POST /requests`: makes a file request link. Not repeated after an
/// ambiguous failure: each call makes another link.
pub fn create_file_request(
    request: &CreateFileRequest,
) -> Call<'_, CreateFileRequest, CreateFileRequestResponse> {
    Call::new(Method::Post, routes::REQUESTS, Idempotence::Unsafe).json(request)
}

/// `GET /requests`: the caller's file requests.
pub fn list_file_requests() -> Call<'static, (), ListFileRequestsResponse> {
    Call::new(Method::Get, routes::REQUESTS, Idempotence::Idempotent)
}

/// `POST /requests/close`: closing twice is the same as once.
pub fn close_file_request(request: &CloseFileRequest) -> Call<'_, CloseFileRequest, ()> {
    Call::new(Method::Post, routes::REQUEST_CLOSE, Idempotence::Idempotent).json(request)
}

/// `POST /public/request` (no credentials): what a file request link takes.
pub fn describe_file_request(
    link: &LinkCredentials,
) -> Call<'_, LinkCredentials, PublicFileRequest> {
    Call::new(
        Method::Post,
        routes::PUBLIC_REQUEST,
        Idempotence::Idempotent,
    )
    .json(link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_api::ObjectKeyQuery;

    #[test]
    fn queries_are_what_the_broker_parses() {
        let query = ListObjectsQuery {
            prefix: Some("a b/&c=ü".into()),
            cursor: Some("+/=".into()),
            limit: Some(7),
        };
        let call = list_objects(&query);
        let path = call.path_and_query();
        let (route, encoded) = path.split_once('?').unwrap();
        assert_eq!(route, routes::OBJECTS);
        // The broker's `Query` extractor is serde_urlencoded.
        assert_eq!(
            serde_urlencoded::from_str::<ListObjectsQuery>(encoded).unwrap(),
            query
        );
        assert_eq!(
            list_objects(&ListObjectsQuery::default()).path_and_query(),
            routes::OBJECTS
        );

        let key = "alice/?#%&x y";
        for path in [
            object_info(key).path_and_query(),
            delete_object(key).path_and_query(),
        ] {
            let (_, encoded) = path.split_once('?').unwrap();
            let parsed: ObjectKeyQuery = serde_urlencoded::from_str(encoded).unwrap();
            assert_eq!(parsed.key, key);
        }
    }

    #[test]
    fn bodies_and_answers_are_json_and_204_is_empty() {
        let request = OpenObjectRequest {
            key: "alice/a".into(),
        };
        let call = open_object(&request);
        assert_eq!(call.method(), Method::Post);
        assert_eq!(
            call.json_body().unwrap().as_deref(),
            Some(r#"{"key":"alice/a"}"#)
        );
        assert!(me().json_body().unwrap().is_none());
        assert!(matches!(
            me().parse(b"{\"not\": \"me\"}"),
            Err(CallError::Answer {
                route: routes::ME,
                ..
            })
        ));
        delete_object("k").parse(b"").unwrap();
        delete_object("k").parse(b"<html>").unwrap();
    }

    #[test]
    fn only_calls_with_a_lasting_side_effect_are_not_repeated() {
        let complete = CompleteUploadRequest {
            key: "alice/a".into(),
            upload_id: "u".into(),
            parts: Vec::new(),
        };
        assert_eq!(
            complete_upload(&complete).idempotence(),
            Idempotence::Unsafe
        );
        assert_eq!(complete_upload(&complete).method(), Method::Post);
        assert_eq!(me().idempotence(), Idempotence::Idempotent);
        assert_eq!(delete_object("k").idempotence(), Idempotence::Idempotent);
        assert_eq!(delete_object("k").method(), Method::Delete);
    }
}
