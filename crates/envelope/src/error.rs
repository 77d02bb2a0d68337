//! Typed errors. Messages name what is wrong and where, never secret values.
//! Each variant is documented by its `#[error]` message.
#![allow(missing_docs)]

use thiserror::Error;

/// A key or fixed-length value had the wrong shape, or randomness failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    #[error("expected {expected} bytes, got {actual}")]
    Length { expected: usize, actual: usize },
    #[error("key is not valid base64")]
    Encoding,
    #[error("the operating system's random number generator failed")]
    Randomness,
}

/// A stream exceeded what one AES-GCM invocation may process.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LengthError {
    #[error("content exceeds AES-GCM's limit of {limit} bytes")]
    TooLong { limit: u64 },
}

/// Decryption failed: the object, its metadata or the key is not what was written.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecryptError {
    #[error(
        "integrity check failed: the key commitment does not match \
         (wrong data key, or the message ID or commitment was modified)"
    )]
    CommitmentMismatch,
    #[error(
        "integrity check failed: the authentication tag does not match (the object was modified or corrupted)"
    )]
    Authentication,
    #[error("integrity check failed: the object is shorter than its authentication tag")]
    Truncated,
    #[error(transparent)]
    Length(#[from] LengthError),
}

/// Metadata that is not a valid, supported S3EC envelope.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MetadataError {
    #[error("object has no S3 Encryption Client metadata")]
    NotEncrypted,
    #[error("format V1 (x-amz-key) is a legacy, unauthenticated format and is not supported")]
    UnsupportedV1,
    #[error("metadata mixes keys of different format versions: {0}")]
    MixedVersions(String),
    #[error(
        "V3 content metadata without x-amz-3: the key is in an instruction file, which is not supported"
    )]
    InstructionFile,
    #[error("required metadata key {0} is missing")]
    Missing(&'static str),
    #[error("metadata key {key} is not valid base64")]
    Base64 { key: &'static str },
    #[error("metadata key {key} must decode to {expected} bytes, got {actual}")]
    Length {
        key: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("metadata key {key} is not a JSON object of strings: {reason}")]
    Json { key: &'static str, reason: String },
    #[error(
        "content cipher {0:?} is unauthenticated (CBC/CTR) and is never decrypted; only AES-GCM is supported"
    )]
    UnauthenticatedCipher(String),
    #[error("content cipher {0:?} is not supported")]
    UnsupportedCipher(String),
    #[error("key wrapping algorithm {0:?} is not supported")]
    UnsupportedWrapping(String),
    #[error("x-amz-tag-len must be 128, got {0:?}")]
    TagLength(String),
    #[error(
        "stored encryption context names content cipher {found:?} but the object uses {expected:?}"
    )]
    ContextCipher {
        expected: &'static str,
        found: String,
    },
    #[error("wrapped data key is empty")]
    EmptyDataKey,
    #[error(
        "user metadata would take {size} bytes, over S3's limit of {limit} bytes (shorten the object name)"
    )]
    TooLarge { size: usize, limit: usize },
}

/// An encryption context or material description that breaks the rules.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ContextError {
    #[error("encryption context key {0:?} is reserved")]
    Reserved(String),
    #[error("encryption context key {0:?} appears twice")]
    Duplicate(String),
    #[error("encryption context keys must not be empty")]
    EmptyKey,
}

/// Unwrapping a data key with a raw AES wrapping key failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UnwrapError {
    #[error("wrapped data key has {0} bytes; AES/GCM wrapping produces 60")]
    Length(usize),
    #[error(
        "the data key does not unwrap with this wrapping key (wrong key, or modified metadata)"
    )]
    Authentication,
}

/// A multipart layout that S3 or AES-GCM cannot honour.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PartError {
    #[error("part size {0} must be a positive multiple of 16 bytes")]
    PartSize(u64),
    #[error("{parts} parts exceed S3's limit of {limit}")]
    TooManyParts { parts: u64, limit: u64 },
    #[error("part {part} has {actual} plaintext bytes, the plan says {expected}")]
    PartLength {
        part: u32,
        expected: u64,
        actual: u64,
    },
    #[error("all {0} parts are already encrypted")]
    Exhausted(u32),
    #[error(transparent)]
    Length(#[from] LengthError),
}
