//! [`StaticKeys`]: an [`SseKeyProvider`] holding its key-encryption keys in
//! memory, for the standalone store server and the store's tests. Production
//! deployments use the local keyring or KMS.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::{SseKeyError, SseKeyProvider};

/// The nonce length of the wrapping (AES-256-GCM, random per data key).
const NONCE_LEN: usize = 12;

/// Wraps each SSE data key with AES-256-GCM under the key-encryption key of
/// its key id, with the object's context as additional data: `nonce ‖
/// ciphertext ‖ tag`. The first key id is the default. Keys are zeroized on
/// drop.
pub struct StaticKeys {
    keys: Vec<(String, Zeroizing<[u8; 32]>)>,
}

impl StaticKeys {
    /// A provider for these `(key id, key-encryption key)` pairs; `None` when
    /// there are none.
    pub fn new(keys: Vec<(String, Zeroizing<[u8; 32]>)>) -> Option<StaticKeys> {
        (!keys.is_empty()).then_some(StaticKeys { keys })
    }

    fn cipher(&self, key_id: &str) -> Result<Aes256Gcm, SseKeyError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| id == key_id)
            .ok_or_else(|| SseKeyError::NotFound(key_id.to_owned()))?;
        Aes256Gcm::new_from_slice(key.as_ref()).map_err(|e| SseKeyError::Other(e.to_string()))
    }
}

fn random(buf: &mut [u8]) -> Result<(), SseKeyError> {
    getrandom::fill(buf).map_err(|e| SseKeyError::Other(format!("random number generator: {e}")))
}

impl SseKeyProvider for StaticKeys {
    fn default_key_id(&self) -> String {
        self.keys
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    }

    fn generate_data_key(
        &self,
        key_id: &str,
        context: &[u8],
    ) -> Result<(Zeroizing<[u8; 32]>, Vec<u8>), SseKeyError> {
        let cipher = self.cipher(key_id)?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        random(data_key.as_mut())?;
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce)?;
        let mut sealed = data_key.to_vec();
        cipher
            .encrypt_in_place(&Nonce::from(nonce), context, &mut sealed)
            .map_err(|e| SseKeyError::Other(e.to_string()))?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok((data_key, wrapped))
    }

    fn decrypt_data_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SseKeyError> {
        let cipher = self.cipher(key_id)?;
        let (nonce, sealed) = wrapped
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(SseKeyError::InvalidCiphertext)?;
        let mut opened = Zeroizing::new(sealed.to_vec());
        cipher
            .decrypt_in_place(&Nonce::from(*nonce), context, &mut *opened)
            .map_err(|_| SseKeyError::InvalidCiphertext)?;
        let data_key: [u8; 32] = opened
            .as_slice()
            .try_into()
            .map_err(|_| SseKeyError::InvalidCiphertext)?;
        Ok(Zeroizing::new(data_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> StaticKeys {
        StaticKeys::new(vec![
            ("a".into(), Zeroizing::new([1; 32])),
            ("b".into(), Zeroizing::new([2; 32])),
        ])
        .unwrap()
    }

    #[test]
    fn wrapped_keys_open_only_with_their_key_and_context() {
        let keys = keys();
        assert_eq!(keys.default_key_id(), "a");
        let (data_key, wrapped) = keys.generate_data_key("a", b"ctx").unwrap();
        assert_eq!(wrapped.len(), NONCE_LEN + 32 + 16);
        let opened = keys.decrypt_data_key("a", &wrapped, b"ctx").unwrap();
        assert_eq!(*opened, *data_key);
        assert!(matches!(
            keys.decrypt_data_key("b", &wrapped, b"ctx"),
            Err(SseKeyError::InvalidCiphertext)
        ));
        assert!(matches!(
            keys.decrypt_data_key("a", &wrapped, b"other"),
            Err(SseKeyError::InvalidCiphertext)
        ));
        assert!(matches!(
            keys.decrypt_data_key("a", &wrapped[..11], b"ctx"),
            Err(SseKeyError::InvalidCiphertext)
        ));
        assert!(matches!(
            keys.generate_data_key("c", b"ctx"),
            Err(SseKeyError::NotFound(_))
        ));
        assert!(StaticKeys::new(Vec::new()).is_none());
    }
}
