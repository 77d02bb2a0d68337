//! # sealdrop-client
//!
//! A native client of the sealdrop broker: the same API and presigned-URL
//! transfers the browser app uses, for the `sealdrop` command line and the
//! integration tests.
//!
//! - [`Client`]: one typed method per API route ([`Client::me`],
//!   [`Client::create_upload`], …, [`Client::delete_object`]).
//! - [`Client::upload_file`] / [`Client::upload_reader`]: streaming uploads,
//!   client-side encrypted in the S3 Encryption Client V3 format or sent for
//!   SSE-KMS, single PUT or multipart with several parts in flight, retries,
//!   and abort on failure.
//! - [`Client::download_to`] / [`Client::download_to_new_file`]: streaming
//!   downloads that publish a file only after it authenticated.
//! - [`Client::create_share`], [`Client::describe_share`],
//!   [`Client::download_shared`]: share links ([`ShareLink`]); a recipient's
//!   client needs no token ([`Client::anonymous`]); file requests
//!   ([`RequestLink`], [`Client::for_file_request`]).
//! - [`Error`] / [`ErrorKind`]: typed failures (API error codes, network,
//!   storage, integrity), [`Progress`] for progress bars.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod download;
mod error;
mod presigned;
mod progress;
mod retry;
mod staging;
mod upload;

pub use client::{Client, TransferConfig};
pub use download::DownloadReport;
pub use error::{Endpoint, Error, ErrorKind};
pub use progress::{NoProgress, Progress};
pub use sealdrop_transfer::{LinkError, RequestLink, RetryPolicy, ShareLink};

/// The API types, re-exported so callers need no second dependency.
pub use sealdrop_api as api;
