//! Raw AES-GCM key wrapping (`x-amz-w: 02` / `x-amz-wrap-alg: AES/GCM`), as the
//! S3EC AES keyring does it: AES-256-GCM under the wrapping key with a random
//! 12-byte nonce, the content cipher's name as AAD (`"115"` for V3,
//! `"AES/GCM/NoPadding"` for V2), stored as `nonce ‖ ciphertext ‖ tag` (60 bytes).
//!
//! KMS wrapping (`x-amz-w: 12`) needs no code here: its stored form is the KMS
//! `CiphertextBlob`, produced and opened by KMS.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::error::{KeyError, UnwrapError};
use crate::keys::{DataKey, WrappingKey};
use crate::suite::{ContentCipher, IV_LEN, KEY_LEN, TAG_LEN};

/// Length of an AES/GCM-wrapped data key.
pub const WRAPPED_KEY_LEN: usize = IV_LEN + KEY_LEN + TAG_LEN;

/// Wraps `data_key` for an object encrypted with `cipher`.
pub fn wrap_data_key(
    wrapping_key: &WrappingKey,
    data_key: &DataKey,
    cipher: ContentCipher,
) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; IV_LEN];
    getrandom::fill(&mut nonce).map_err(|_| KeyError::Randomness)?;
    let aead = Aes256Gcm::new(wrapping_key.expose_secret().into());
    let sealed = aead
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: data_key.expose_secret(),
                aad: cipher.raw_wrap_aad(),
            },
        )
        // AES-GCM encryption of 32 bytes cannot exceed any limit.
        .map_err(|_| KeyError::Length {
            expected: KEY_LEN,
            actual: KEY_LEN,
        })?;
    let mut out = Vec::with_capacity(WRAPPED_KEY_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Unwraps a data key wrapped by [`wrap_data_key`] (or any S3EC AES keyring).
pub fn unwrap_data_key(
    wrapping_key: &WrappingKey,
    wrapped: &[u8],
    cipher: ContentCipher,
) -> Result<DataKey, UnwrapError> {
    if wrapped.len() != WRAPPED_KEY_LEN {
        return Err(UnwrapError::Length(wrapped.len()));
    }
    let (nonce, sealed) = wrapped.split_at(IV_LEN);
    let nonce: [u8; IV_LEN] = nonce
        .try_into()
        .map_err(|_| UnwrapError::Length(wrapped.len()))?;
    let aead = Aes256Gcm::new(wrapping_key.expose_secret().into());
    let plain = Zeroizing::new(
        aead.decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: sealed,
                aad: cipher.raw_wrap_aad(),
            },
        )
        .map_err(|_| UnwrapError::Authentication)?,
    );
    DataKey::from_slice(&plain).map_err(|_| UnwrapError::Length(wrapped.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_unwraps_bound_to_the_cipher() {
        let wk = WrappingKey::generate().unwrap();
        let dk = DataKey::generate().unwrap();
        let wrapped = wrap_data_key(&wk, &dk, ContentCipher::CommittingAesGcm).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
        let back = unwrap_data_key(&wk, &wrapped, ContentCipher::CommittingAesGcm).unwrap();
        assert_eq!(back.expose_secret(), dk.expose_secret());
        // The AAD binds the cipher: a V3 key does not unwrap as a V2 key.
        assert_eq!(
            unwrap_data_key(&wk, &wrapped, ContentCipher::AesGcm).unwrap_err(),
            UnwrapError::Authentication
        );
        let other = WrappingKey::generate().unwrap();
        assert!(unwrap_data_key(&other, &wrapped, ContentCipher::CommittingAesGcm).is_err());
        let mut flipped = wrapped.clone();
        flipped[20] ^= 1;
        assert!(unwrap_data_key(&wk, &flipped, ContentCipher::CommittingAesGcm).is_err());
        assert_eq!(
            unwrap_data_key(&wk, &wrapped[1..], ContentCipher::CommittingAesGcm).unwrap_err(),
            UnwrapError::Length(59)
        );
    }

    #[test]
    fn aad_matches_the_java_aes_keyring() {
        assert_eq!(ContentCipher::CommittingAesGcm.raw_wrap_aad(), b"115");
        assert_eq!(ContentCipher::AesGcm.raw_wrap_aad(), b"AES/GCM/NoPadding");
    }
}
