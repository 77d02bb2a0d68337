//! # sealdrop-server
//!
//! A sealdrop deployment, assembled from its [`Config`]:
//!
//! - [`stack`]: storage and the key provider — AWS (S3 + KMS through the
//!   standard AWS chain) or the embedded default (local keyring + the
//!   in-process S3-compatible store).
//! - [`Deployment`]: the broker's state on top of a stack, the first admin on
//!   an empty embedded data directory, and [`Deployment::serve`] for the broker
//!   and (embedded) the store. `sealdrop serve` and the test suites start
//!   sealdrop the same way.
//! - [`ops`]: operator operations on a deployment's objects —
//!   encrypting existing objects in place, rotating client-side encrypted
//!   objects to another KMS key — as a library the CLI calls.
#![forbid(unsafe_code)]

mod deployment;
pub mod ops;
pub mod stack;

pub use deployment::{Deployment, DeploymentError, Serving, open_state};
pub use sealdrop_broker::Config;
pub use stack::{Stack, StackError};
