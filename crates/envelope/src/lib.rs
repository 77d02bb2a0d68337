//! # sealdrop-envelope
//!
//! The Amazon S3 Encryption Client (S3EC) object format, as pure Rust with no I/O,
//! no async and no cloud SDK, for native targets and `wasm32-unknown-unknown`.
//! The normative text is the public S3EC specification
//! (`awslabs/aws-encryption-sdk-specification`, folder `s3-encryption/`); where it is
//! ambiguous, the official clients' behaviour (checked against fixtures written by
//! `amazon-s3-encryption-client-python`) decides. See `docs/format.md`.
//!
//! - [`ContentMetadata`]: parse and write S3EC metadata. Writes V3 (suite 115),
//!   reads V3 and V2, rejects everything else with a [`MetadataError`].
//! - [`EncryptionContext`] / [`StoredContext`]: KMS encryption contexts and the
//!   specification's comparison rule; [`EncryptionContext::for_object`] binds a data
//!   key to its object key (`"sealdrop:key"`).
//! - [`commitment`] and the committing key derivation (HKDF-SHA512).
//! - [`Encryptor`], [`UnverifiedDecryptor`], [`UnverifiedObjectDecryptor`]:
//!   streaming AES-256-GCM with memory independent of the object size,
//!   byte-identical to one-shot `aes-gcm`. [`Encryptor::v3`] consumes its
//!   [`MessageId`], which is neither `Copy` nor `Clone`, so one value starts one
//!   encryption. Whatever releases plaintext before the tag is checked (*delayed
//!   authentication*) says `Unverified` in its name; [`open`] is the one-shot
//!   authenticated path.
//! - [`PartPlan`] / [`PartEncryptor`]: the multipart layout (parts of 16-byte
//!   multiples, tag at the end of the last part).
//! - [`wrap`]: raw AES-GCM wrapping of data keys (`x-amz-w: 02`).
//! - [`EncryptingReader`] / [`UnverifiedDecryptingWriter`]: `std::io` adapters.
//! - `hazmat` (cargo feature `hazmat`): raw AES-256-GCM parameters, the V2
//!   encryptor for test fixtures, and the GCM algebra of the browser's segmented
//!   WebCrypto path (field products, combining segment GHASH values into the tag,
//!   the crafted per-part IVs), tested against `aes-gcm`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod context;
mod error;
mod gcm;
mod io;
mod json;
mod kdf;
mod keys;
mod metadata;
mod multipart;
mod suite;
pub mod wrap;

#[cfg(feature = "hazmat")]
pub mod hazmat;

use zeroize::Zeroizing;

pub use context::{
    CEK_ALG_KEY, EncryptionContext, KMS_CMK_ID_KEY, MaterialDescription, OBJECT_KEY_CONTEXT_KEY,
    StoredContext,
};
pub use error::{
    ContextError, DecryptError, KeyError, LengthError, MetadataError, PartError, UnwrapError,
};
pub use gcm::{Encryptor, UnverifiedDecryptor, UnverifiedObjectDecryptor};
pub use io::{EncryptingReader, FinishError, UnverifiedDecryptingWriter};
pub use kdf::{commitment, verify_commitment};
pub use keys::{Commitment, DataKey, Iv, MessageId, Tag, WrappingKey};
pub use metadata::{
    ContentMetadata, ContentParams, KeyWrapping, MetadataMap, USER_METADATA_LIMIT, check_budget,
    keys as metadata_keys, user_metadata_size,
};
pub use multipart::{
    DEFAULT_PART_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, PartEncryptor, PartPlan, PartSpec,
};
pub use suite::{
    COMMITMENT_LEN, COMMITTING_SUITE_ID, ContentCipher, IV_LEN, KEY_LEN, MAX_PLAINTEXT_LEN,
    MESSAGE_ID_LEN, TAG_LEN,
};

/// Encrypts a whole object at once: returns ciphertext followed by the tag.
pub fn seal(mut encryptor: Encryptor, plaintext: &[u8]) -> Result<Vec<u8>, LengthError> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    encryptor.encrypt_in_place(&mut out)?;
    out.extend_from_slice(encryptor.finish().as_bytes());
    Ok(out)
}

/// Decrypts and authenticates a whole stored object (ciphertext followed by the
/// tag). Plaintext is returned only if the object authenticates: nothing is
/// released before authentication.
pub fn open(
    metadata: &ContentMetadata,
    data_key: &DataKey,
    object: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let Some(ciphertext_len) = object.len().checked_sub(TAG_LEN) else {
        return Err(DecryptError::Truncated);
    };
    let (ciphertext, tag) = object.split_at(ciphertext_len);
    let tag = Tag::from_slice(tag).map_err(|_| DecryptError::Truncated)?;
    let mut decryptor = metadata.unverified_decryptor(data_key)?;
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    decryptor.decrypt_in_place(&mut plaintext)?;
    decryptor.finish(&tag)?;
    Ok(plaintext)
}
