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
//! - [`Encryptor`], [`Decryptor`], [`ObjectDecryptor`]: streaming AES-256-GCM with
//!   memory independent of the object size, byte-identical to one-shot `aes-gcm`.
//!   Decryptors that stream plaintext do so with *delayed authentication* and say
//!   so in their names and docs; [`open`] is the one-shot authenticated path.
//! - [`PartPlan`] / [`PartEncryptor`]: the multipart layout (parts of 16-byte
//!   multiples, tag at the end of the last part).
//! - [`wrap`]: raw AES-GCM wrapping of data keys (`x-amz-w: 02`).
//! - [`EncryptingReader`] / [`DecryptingWriter`]: `std::io` adapters.
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

use zeroize::Zeroizing;

pub use context::{
    CEK_ALG_KEY, EncryptionContext, KMS_CMK_ID_KEY, MaterialDescription, OBJECT_KEY_CONTEXT_KEY,
    StoredContext,
};
pub use error::{
    ContextError, DecryptError, KeyError, LengthError, MetadataError, PartError, UnwrapError,
};
pub use gcm::{Decryptor, Encryptor, ObjectDecryptor};
pub use io::{DecryptingWriter, EncryptingReader, FinishError};
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

impl Encryptor {
    /// A V3 (suite 115) encryptor for the object with this data key and message ID.
    /// The message ID must be fresh for the data key: together they derive the
    /// content key used with the fixed V3 IV.
    pub fn v3(data_key: &DataKey, message_id: &MessageId) -> Encryptor {
        let cipher = ContentCipher::CommittingAesGcm;
        Encryptor::new(
            kdf::derive_for_encryption(data_key, message_id),
            &suite::COMMITTING_IV,
            cipher.content_aad(),
        )
    }

    /// A V2 (AES/GCM/NoPadding) encryptor. The IV must be fresh for the data key.
    pub fn v2(data_key: &DataKey, iv: &Iv) -> Encryptor {
        Encryptor::new(
            keys::ContentKey(*data_key.expose_secret()),
            iv.as_bytes(),
            ContentCipher::AesGcm.content_aad(),
        )
    }
}

/// Raw AES-256-GCM with a caller-chosen key, IV and AAD.
///
/// Not for objects — use [`Encryptor::v3`] / [`ContentMetadata::decryptor`], which
/// derive keys and IVs as the format requires. This exists to run published
/// test vectors through the streaming implementation and to check other GCM
/// implementations (the browser's WebCrypto fast path) against it.
pub mod hazmat {
    use zeroize::Zeroizing;

    use crate::error::DecryptError;
    use crate::gcm::{Decryptor, Encryptor};
    use crate::keys::{ContentKey, DataKey, MessageId};
    use crate::metadata::ContentMetadata;
    use crate::suite::{COMMITTING_IV, ContentCipher, IV_LEN, KEY_LEN};

    /// The raw AES-256-GCM parameters of one object's content, for a GCM
    /// implementation other than this crate's (the browser's WebCrypto path).
    pub struct ContentKeyParts {
        /// The content key (derived for V3, the data key for V2).
        pub key: Zeroizing<[u8; KEY_LEN]>,
        /// The IV.
        pub iv: [u8; IV_LEN],
        /// The additional authenticated data.
        pub aad: &'static [u8],
    }

    /// The parameters for writing a V3 object with this data key and message ID.
    pub fn v3_encryption_parts(data_key: &DataKey, message_id: &MessageId) -> ContentKeyParts {
        let key = crate::kdf::derive_for_encryption(data_key, message_id);
        ContentKeyParts {
            key: Zeroizing::new(key.0),
            iv: COMMITTING_IV,
            aad: ContentCipher::CommittingAesGcm.content_aad(),
        }
    }

    /// The parameters for reading the object `metadata` describes, after the V3
    /// key commitment has been checked in constant time.
    pub fn decryption_parts(
        metadata: &ContentMetadata,
        data_key: &DataKey,
    ) -> Result<ContentKeyParts, DecryptError> {
        let (key, iv) = metadata.content_key(data_key)?;
        Ok(ContentKeyParts {
            key: Zeroizing::new(key.0),
            iv,
            aad: metadata.cipher().content_aad(),
        })
    }

    /// An encryptor for one message under `key` and `iv`. Never reuse the pair.
    pub fn encryptor(key: &[u8; KEY_LEN], iv: &[u8; IV_LEN], aad: &[u8]) -> Encryptor {
        Encryptor::new(ContentKey(*key), iv, aad)
    }

    /// A delayed-authentication decryptor for one message.
    pub fn decryptor(key: &[u8; KEY_LEN], iv: &[u8; IV_LEN], aad: &[u8]) -> Decryptor {
        Decryptor::new(ContentKey(*key), iv, aad)
    }
}

/// Encrypts a whole object at once: returns ciphertext followed by the tag.
pub fn seal(mut encryptor: Encryptor, plaintext: &[u8]) -> Result<Vec<u8>, LengthError> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    encryptor.encrypt_in_place(&mut out)?;
    out.extend_from_slice(encryptor.finish().as_bytes());
    Ok(out)
}

/// Decrypts and authenticates a whole stored object (ciphertext followed by the
/// tag). Plaintext is returned only if the object authenticates.
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
    let mut decryptor = metadata.decryptor(data_key)?;
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    decryptor.decrypt_in_place(&mut plaintext)?;
    decryptor.finish(&tag)?;
    Ok(plaintext)
}
