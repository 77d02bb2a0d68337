//! Key derivation and key commitment for suite 115
//! (`ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`), per `s3-encryption/key-derivation.md`:
//!
//! - extract: HKDF-SHA512, salt = the 28-byte message ID, IKM = the data key;
//! - expand: content key = 32 bytes with info `0x00 0x73 "DERIVEKEY"`,
//!   commitment = 28 bytes with info `0x00 0x73 "COMMITKEY"`.
//!
//! On decryption the stored commitment is compared in constant time *before* the
//! content key is derived (`decryption.md`, "Decrypting With Commitment").

use hkdf::Hkdf;
use sha2::Sha512;
use zeroize::Zeroizing;

use crate::error::DecryptError;
use crate::keys::{Commitment, ContentKey, DataKey, MessageId};
use crate::suite::{COMMITMENT_LEN, COMMITTING_SUITE_ID_BYTES, KEY_LEN};

const DERIVE_KEY_LABEL: &[u8] = b"DERIVEKEY";
const COMMIT_KEY_LABEL: &[u8] = b"COMMITKEY";

/// The HKDF state after extraction; the PRK inside is zeroized on drop
/// (`hmac`/`sha2` are built with their `zeroize` features).
struct Extracted(Hkdf<Sha512>);

impl Extracted {
    fn new(data_key: &DataKey, message_id: &MessageId) -> Self {
        Extracted(Hkdf::new(
            Some(message_id.as_bytes()),
            data_key.expose_secret(),
        ))
    }

    fn expand<const N: usize>(&self, label: &[u8]) -> Zeroizing<[u8; N]> {
        let mut info = [0u8; 2 + 9];
        info[..2].copy_from_slice(&COMMITTING_SUITE_ID_BYTES);
        info[2..].copy_from_slice(label);
        let mut out = Zeroizing::new([0u8; N]);
        // Infallible: N ≤ 32 is far below HKDF-SHA512's 255·64-byte limit.
        if self.0.expand(&info, out.as_mut()).is_err() {
            unreachable!("HKDF-SHA512 output of {N} bytes is within the limit");
        }
        out
    }

    fn commitment(&self) -> Commitment {
        let bytes = self.expand::<COMMITMENT_LEN>(COMMIT_KEY_LABEL);
        Commitment::from_array(*bytes)
    }

    fn content_key(&self) -> ContentKey {
        let bytes = self.expand::<KEY_LEN>(DERIVE_KEY_LABEL);
        ContentKey(*bytes)
    }
}

/// The key commitment of (data key, message ID): what the broker stores in `x-amz-d`.
pub fn commitment(data_key: &DataKey, message_id: &MessageId) -> Commitment {
    Extracted::new(data_key, message_id).commitment()
}

/// Derives the content key for encryption.
pub(crate) fn derive_for_encryption(data_key: &DataKey, message_id: &MessageId) -> ContentKey {
    Extracted::new(data_key, message_id).content_key()
}

/// Checks the stored commitment (constant time), then derives the content key.
pub(crate) fn derive_for_decryption(
    data_key: &DataKey,
    message_id: &MessageId,
    stored: &Commitment,
) -> Result<ContentKey, DecryptError> {
    let extracted = Extracted::new(data_key, message_id);
    if !extracted.commitment().ct_eq(stored) {
        return Err(DecryptError::CommitmentMismatch);
    }
    Ok(extracted.content_key())
}

/// Checks a data key against a stored commitment without deriving anything else:
/// the broker uses it to refuse handing out a key that does not open the object.
pub fn verify_commitment(
    data_key: &DataKey,
    message_id: &MessageId,
    stored: &Commitment,
) -> Result<(), DecryptError> {
    if commitment(data_key, message_id).ct_eq(stored) {
        Ok(())
    } else {
        Err(DecryptError::CommitmentMismatch)
    }
}
