//! Integration tests: the store over HTTP on 127.0.0.1, driven by `aws-sdk-s3` (real SigV4)
//! and `reqwest` for raw and presigned requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod auth;
mod common;
mod concurrency;
mod conformance;
mod crash;
mod format_v1;
mod sse;
