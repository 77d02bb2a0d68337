//! The S3EC content metadata model (`s3-encryption/data-format/content-metadata.md`).
//!
//! Metadata is handled as a map of keys **without** the `x-amz-meta-` prefix,
//! which is how S3 SDKs expose user metadata. sealdrop writes format V3 (suite
//! 115) and reads V3 and V2; V1, unauthenticated ciphers (CBC, CTR), instruction
//! files and mixed-version key sets are rejected with a typed error.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::context::{CEK_ALG_KEY, MaterialDescription, StoredContext};
use crate::error::{DecryptError, MetadataError};
use crate::gcm::{UnverifiedDecryptor, UnverifiedObjectDecryptor};
use crate::json;
use crate::kdf;
use crate::keys::{Commitment, ContentKey, DataKey, Iv, MessageId};
use crate::suite::{COMMITTING_IV, ContentCipher};

/// User metadata as S3 SDKs expose it: keys without `x-amz-meta-`, lower case.
pub type MetadataMap = BTreeMap<String, String>;

/// S3's limit on user-defined metadata: the sum of the UTF-8 lengths of every key
/// (without `x-amz-meta-`) and value.
pub const USER_METADATA_LIMIT: usize = 2048;

/// The metadata keys of the S3EC formats.
pub mod keys {
    /// V3 content cipher (`"115"`).
    pub const CONTENT_CIPHER_V3: &str = "x-amz-c";
    /// V3 encrypted data key, base64.
    pub const ENCRYPTED_DATA_KEY_V3: &str = "x-amz-3";
    /// V3 material description (raw keyrings), JSON.
    pub const MAT_DESC_V3: &str = "x-amz-m";
    /// V3 KMS encryption context, JSON.
    pub const ENCRYPTION_CONTEXT_V3: &str = "x-amz-t";
    /// V3 wrapping algorithm (`"12"` KMS, `"02"` AES/GCM).
    pub const WRAPPING_ALGORITHM_V3: &str = "x-amz-w";
    /// V3 key commitment, base64.
    pub const KEY_COMMITMENT_V3: &str = "x-amz-d";
    /// V3 message ID, base64.
    pub const MESSAGE_ID_V3: &str = "x-amz-i";

    /// V1 encrypted data key (never read).
    pub const ENCRYPTED_DATA_KEY_V1: &str = "x-amz-key";
    /// V2 encrypted data key, base64.
    pub const ENCRYPTED_DATA_KEY_V2: &str = "x-amz-key-v2";
    /// V1/V2 content IV, base64.
    pub const CONTENT_IV: &str = "x-amz-iv";
    /// V1/V2 material description or encryption context, JSON.
    pub const MATDESC: &str = "x-amz-matdesc";
    /// V2 wrapping algorithm.
    pub const WRAPPING_ALGORITHM_V2: &str = "x-amz-wrap-alg";
    /// V2 content cipher.
    pub const CONTENT_CIPHER_V2: &str = "x-amz-cek-alg";
    /// V2 tag length in bits.
    pub const TAG_LENGTH: &str = "x-amz-tag-len";
    /// V1/V2 plaintext length.
    pub const UNENCRYPTED_LENGTH: &str = "x-amz-unencrypted-content-length";

    pub(crate) const V3: [&str; 7] = [
        CONTENT_CIPHER_V3,
        ENCRYPTED_DATA_KEY_V3,
        MAT_DESC_V3,
        ENCRYPTION_CONTEXT_V3,
        WRAPPING_ALGORITHM_V3,
        KEY_COMMITMENT_V3,
        MESSAGE_ID_V3,
    ];
    pub(crate) const V1_V2: [&str; 8] = [
        ENCRYPTED_DATA_KEY_V1,
        ENCRYPTED_DATA_KEY_V2,
        CONTENT_IV,
        MATDESC,
        WRAPPING_ALGORITHM_V2,
        CONTENT_CIPHER_V2,
        TAG_LENGTH,
        UNENCRYPTED_LENGTH,
    ];
}

const WRAP_KMS_V3: &str = "12";
const WRAP_AES_GCM_V3: &str = "02";
const WRAP_KMS_V2: &str = "kms+context";
const WRAP_AES_GCM_V2: &str = "AES/GCM";

/// How the data key is wrapped, with what the wrapping binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyWrapping {
    /// `kms+context`: the encrypted data key is a KMS `CiphertextBlob` produced
    /// under this context (reserved entries included).
    Kms {
        /// The stored context, reserved entries included.
        context: StoredContext,
    },
    /// `AES/GCM`: the data key is wrapped by a raw AES key (see [`crate::wrap`]),
    /// described by this material description.
    AesGcm {
        /// The stored material description.
        description: MaterialDescription,
    },
}

/// Format-specific content parameters. Not `Clone`: the message ID or IV in
/// it is not (see [`crate::Encryptor::v3`]).
#[derive(Debug, PartialEq, Eq)]
pub enum ContentParams {
    /// V3, suite 115: the content key is derived from the data key and message ID.
    V3 {
        /// `x-amz-i`: the HKDF salt.
        message_id: MessageId,
        /// `x-amz-d`: the key commitment.
        commitment: Commitment,
    },
    /// V2, AES/GCM/NoPadding: the data key encrypts directly with this IV.
    V2 {
        /// `x-amz-iv`.
        iv: Iv,
    },
}

/// Everything an S3EC object's metadata says about its encryption.
#[derive(Debug, PartialEq, Eq)]
pub struct ContentMetadata {
    encrypted_data_key: Vec<u8>,
    wrapping: KeyWrapping,
    params: ContentParams,
}

impl ContentMetadata {
    /// Metadata of a V3 object.
    pub fn v3(
        encrypted_data_key: Vec<u8>,
        wrapping: KeyWrapping,
        message_id: MessageId,
        commitment: Commitment,
    ) -> Result<Self, MetadataError> {
        Self::new(
            encrypted_data_key,
            wrapping,
            ContentParams::V3 {
                message_id,
                commitment,
            },
        )
    }

    /// Metadata of a V2 object (for consumers on older S3EC versions).
    pub fn v2(
        encrypted_data_key: Vec<u8>,
        wrapping: KeyWrapping,
        iv: Iv,
    ) -> Result<Self, MetadataError> {
        Self::new(encrypted_data_key, wrapping, ContentParams::V2 { iv })
    }

    fn new(
        encrypted_data_key: Vec<u8>,
        wrapping: KeyWrapping,
        params: ContentParams,
    ) -> Result<Self, MetadataError> {
        if encrypted_data_key.is_empty() {
            return Err(MetadataError::EmptyDataKey);
        }
        let metadata = ContentMetadata {
            encrypted_data_key,
            wrapping,
            params,
        };
        metadata.check_context_cipher()?;
        Ok(metadata)
    }

    /// The content cipher.
    pub fn cipher(&self) -> ContentCipher {
        match self.params {
            ContentParams::V3 { .. } => ContentCipher::CommittingAesGcm,
            ContentParams::V2 { .. } => ContentCipher::AesGcm,
        }
    }

    /// Format-specific parameters (message ID and commitment, or IV).
    pub fn params(&self) -> &ContentParams {
        &self.params
    }

    /// The wrapped data key (KMS ciphertext blob, or AES/GCM-wrapped bytes).
    pub fn encrypted_data_key(&self) -> &[u8] {
        &self.encrypted_data_key
    }

    /// How the data key is wrapped.
    pub fn wrapping(&self) -> &KeyWrapping {
        &self.wrapping
    }

    /// The stored KMS encryption context, for `kms+context` wrapping.
    pub fn kms_context(&self) -> Option<&StoredContext> {
        match &self.wrapping {
            KeyWrapping::Kms { context } => Some(context),
            KeyWrapping::AesGcm { .. } => None,
        }
    }

    /// Replaces the wrapped data key, e.g. after KMS `ReEncrypt` under a new key.
    /// Everything else (context, commitment, message ID) stays valid.
    pub fn with_encrypted_data_key(
        mut self,
        encrypted_data_key: Vec<u8>,
    ) -> Result<Self, MetadataError> {
        if encrypted_data_key.is_empty() {
            return Err(MetadataError::EmptyDataKey);
        }
        self.encrypted_data_key = encrypted_data_key;
        Ok(self)
    }

    /// KMS rejects a context that differs from the one the key was generated
    /// under; still, refuse metadata whose own context contradicts its cipher
    /// early and with a clear message.
    fn check_context_cipher(&self) -> Result<(), MetadataError> {
        let KeyWrapping::Kms { context } = &self.wrapping else {
            return Ok(());
        };
        let expected = self.cipher().context_value();
        match context.get(CEK_ALG_KEY) {
            Some(found) if found == expected => Ok(()),
            found => Err(MetadataError::ContextCipher {
                expected,
                found: found.unwrap_or("<missing>").to_owned(),
            }),
        }
    }

    /// Parses an object's user metadata (keys with or without `x-amz-meta-`, any
    /// case). Unrelated keys are ignored.
    pub fn parse<'a>(
        metadata: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, MetadataError> {
        let map: BTreeMap<String, &str> = metadata
            .into_iter()
            .map(|(k, v)| {
                let k = k.to_ascii_lowercase();
                let k = k
                    .strip_prefix("x-amz-meta-")
                    .map(str::to_owned)
                    .unwrap_or(k);
                (k, v)
            })
            .collect();
        let get = |key: &str| map.get(key).copied();
        let present = |set: &[&'static str]| -> Vec<&'static str> {
            set.iter()
                .copied()
                .filter(|k| map.contains_key(*k))
                .collect()
        };

        let v3 = present(&keys::V3);
        let legacy = present(&keys::V1_V2);
        if !v3.is_empty() && !legacy.is_empty() {
            return Err(MetadataError::MixedVersions(
                [v3, legacy].concat().join(", "),
            ));
        }
        if !v3.is_empty() {
            return Self::parse_v3(&get);
        }
        match (
            get(keys::ENCRYPTED_DATA_KEY_V1),
            get(keys::ENCRYPTED_DATA_KEY_V2),
        ) {
            (Some(_), Some(_)) => Err(MetadataError::MixedVersions(format!(
                "{}, {}",
                keys::ENCRYPTED_DATA_KEY_V1,
                keys::ENCRYPTED_DATA_KEY_V2
            ))),
            (Some(_), None) => Err(MetadataError::UnsupportedV1),
            (None, Some(_)) => Self::parse_v2(&get),
            (None, None) if legacy.is_empty() => Err(MetadataError::NotEncrypted),
            (None, None) => Err(MetadataError::Missing(keys::ENCRYPTED_DATA_KEY_V2)),
        }
    }

    fn parse_v3<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Self, MetadataError> {
        let required = |key: &'static str| get(key).ok_or(MetadataError::Missing(key));
        let Some(encoded_key) = get(keys::ENCRYPTED_DATA_KEY_V3) else {
            let content_keys = [
                keys::CONTENT_CIPHER_V3,
                keys::KEY_COMMITMENT_V3,
                keys::MESSAGE_ID_V3,
            ];
            return Err(if content_keys.iter().all(|k| get(k).is_some()) {
                MetadataError::InstructionFile
            } else {
                MetadataError::Missing(keys::ENCRYPTED_DATA_KEY_V3)
            });
        };
        match required(keys::CONTENT_CIPHER_V3)? {
            "115" => {}
            other => return Err(unsupported_cipher(other)),
        }
        let encrypted_data_key = decode_base64(keys::ENCRYPTED_DATA_KEY_V3, encoded_key)?;
        let wrapping = match required(keys::WRAPPING_ALGORITHM_V3)? {
            WRAP_KMS_V3 => KeyWrapping::Kms {
                context: StoredContext::from_pairs(parse_json_or_empty(
                    keys::ENCRYPTION_CONTEXT_V3,
                    get(keys::ENCRYPTION_CONTEXT_V3),
                )?),
            },
            WRAP_AES_GCM_V3 => KeyWrapping::AesGcm {
                description: MaterialDescription::from_pairs(parse_json_or_empty(
                    keys::MAT_DESC_V3,
                    get(keys::MAT_DESC_V3),
                )?),
            },
            other => return Err(MetadataError::UnsupportedWrapping(other.to_owned())),
        };
        let message_id = MessageId::from_base64(required(keys::MESSAGE_ID_V3)?)?;
        let commitment = Commitment::from_base64(required(keys::KEY_COMMITMENT_V3)?)?;
        Self::v3(encrypted_data_key, wrapping, message_id, commitment)
    }

    fn parse_v2<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<Self, MetadataError> {
        let required = |key: &'static str| get(key).ok_or(MetadataError::Missing(key));
        match required(keys::CONTENT_CIPHER_V2)? {
            "AES/GCM/NoPadding" => {}
            other => return Err(unsupported_cipher(other)),
        }
        match required(keys::TAG_LENGTH)? {
            "128" => {}
            other => return Err(MetadataError::TagLength(other.to_owned())),
        }
        let encrypted_data_key = decode_base64(
            keys::ENCRYPTED_DATA_KEY_V2,
            required(keys::ENCRYPTED_DATA_KEY_V2)?,
        )?;
        let matdesc = parse_json_or_empty(keys::MATDESC, get(keys::MATDESC))?;
        let wrapping = match required(keys::WRAPPING_ALGORITHM_V2)? {
            WRAP_KMS_V2 => KeyWrapping::Kms {
                context: StoredContext::from_pairs(matdesc),
            },
            WRAP_AES_GCM_V2 => KeyWrapping::AesGcm {
                description: MaterialDescription::from_pairs(matdesc),
            },
            other => return Err(MetadataError::UnsupportedWrapping(other.to_owned())),
        };
        let iv = Iv::from_base64(required(keys::CONTENT_IV)?)?;
        Self::v2(encrypted_data_key, wrapping, iv)
    }

    /// The metadata entries to store with the object.
    pub fn to_map(&self) -> MetadataMap {
        let mut map = MetadataMap::new();
        let edk = BASE64.encode(&self.encrypted_data_key);
        match (&self.params, &self.wrapping) {
            (
                ContentParams::V3 {
                    message_id,
                    commitment,
                },
                wrapping,
            ) => {
                map.insert(keys::CONTENT_CIPHER_V3.into(), "115".into());
                map.insert(keys::ENCRYPTED_DATA_KEY_V3.into(), edk);
                match wrapping {
                    KeyWrapping::Kms { context } => {
                        map.insert(keys::WRAPPING_ALGORITHM_V3.into(), WRAP_KMS_V3.into());
                        map.insert(keys::ENCRYPTION_CONTEXT_V3.into(), context.to_json());
                    }
                    KeyWrapping::AesGcm { description } => {
                        map.insert(keys::WRAPPING_ALGORITHM_V3.into(), WRAP_AES_GCM_V3.into());
                        map.insert(keys::MAT_DESC_V3.into(), description.to_json());
                    }
                }
                map.insert(keys::KEY_COMMITMENT_V3.into(), commitment.to_base64());
                map.insert(keys::MESSAGE_ID_V3.into(), message_id.to_base64());
            }
            (ContentParams::V2 { iv }, wrapping) => {
                map.insert(keys::ENCRYPTED_DATA_KEY_V2.into(), edk);
                map.insert(keys::CONTENT_IV.into(), iv.to_base64());
                map.insert(
                    keys::CONTENT_CIPHER_V2.into(),
                    ContentCipher::AesGcm.metadata_value().into(),
                );
                map.insert(keys::TAG_LENGTH.into(), "128".into());
                let (algorithm, matdesc) = match wrapping {
                    KeyWrapping::Kms { context } => (WRAP_KMS_V2, context.to_json()),
                    KeyWrapping::AesGcm { description } => (WRAP_AES_GCM_V2, description.to_json()),
                };
                map.insert(keys::WRAPPING_ALGORITHM_V2.into(), algorithm.into());
                map.insert(keys::MATDESC.into(), matdesc);
            }
        }
        map
    }

    /// Adds this metadata to `map` (which may hold other user metadata), checking
    /// that the result fits S3's 2 KB user-metadata budget.
    pub fn write_into(&self, map: &mut MetadataMap) -> Result<(), MetadataError> {
        let mut combined = map.clone();
        combined.extend(self.to_map());
        check_budget(&combined)?;
        *map = combined;
        Ok(())
    }

    /// A delayed-authentication decryptor for this object's content (tag not
    /// included), after the V3 key commitment has been checked in constant time.
    ///
    /// Security contract: a wrong data key or modified message ID / commitment
    /// fails here, before any plaintext exists; everything else (modified
    /// ciphertext or tag) is only detected by [`UnverifiedDecryptor::finish`],
    /// which the caller must call. All plaintext released before it succeeds is
    /// unverified and must be discarded if it fails. Prefer [`crate::open`] when
    /// the object fits in memory.
    pub fn unverified_decryptor(
        &self,
        data_key: &DataKey,
    ) -> Result<UnverifiedDecryptor, DecryptError> {
        let cipher = self.cipher();
        let (key, iv) = self.content_key(data_key)?;
        Ok(UnverifiedDecryptor::new(key, &iv, cipher.content_aad()))
    }

    /// Like [`ContentMetadata::unverified_decryptor`], for the stored object as
    /// a whole (ciphertext followed by the tag) arriving in pieces of any size;
    /// same contract, with [`UnverifiedObjectDecryptor::finish`] as the check.
    pub fn unverified_object_decryptor(
        &self,
        data_key: &DataKey,
    ) -> Result<UnverifiedObjectDecryptor, DecryptError> {
        self.unverified_decryptor(data_key)
            .map(UnverifiedObjectDecryptor::new)
    }

    pub(crate) fn content_key(
        &self,
        data_key: &DataKey,
    ) -> Result<(ContentKey, [u8; 12]), DecryptError> {
        match &self.params {
            ContentParams::V3 {
                message_id,
                commitment,
            } => Ok((
                kdf::derive_for_decryption(data_key, message_id, commitment)?,
                COMMITTING_IV,
            )),
            ContentParams::V2 { iv } => Ok((ContentKey(*data_key.expose_secret()), *iv.as_bytes())),
        }
    }
}

fn unsupported_cipher(value: &str) -> MetadataError {
    if value.contains("CBC") || value.contains("CTR") || value == "116" {
        MetadataError::UnauthenticatedCipher(value.to_owned())
    } else {
        MetadataError::UnsupportedCipher(value.to_owned())
    }
}

/// Sum of key and value lengths, as S3 counts its user-metadata limit.
pub fn user_metadata_size(map: &MetadataMap) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Fails if `map` does not fit S3's user-metadata limit.
pub fn check_budget(map: &MetadataMap) -> Result<(), MetadataError> {
    let size = user_metadata_size(map);
    if size > USER_METADATA_LIMIT {
        return Err(MetadataError::TooLarge {
            size,
            limit: USER_METADATA_LIMIT,
        });
    }
    Ok(())
}

pub(crate) fn decode_base64(key: &'static str, value: &str) -> Result<Vec<u8>, MetadataError> {
    BASE64
        .decode(value.trim())
        .map_err(|_| MetadataError::Base64 { key })
}

fn parse_json_or_empty(
    key: &'static str,
    value: Option<&str>,
) -> Result<Vec<(String, String)>, MetadataError> {
    let Some(value) = value else {
        // The specification's default for an absent x-amz-t / x-amz-m.
        return Ok(Vec::new());
    };
    let decoded = decode_rfc2047(value);
    json::parse_object(decoded.as_deref().unwrap_or(value))
        .map_err(|reason| MetadataError::Json { key, reason })
}

/// S3 returns non-ASCII metadata values as RFC 2047 encoded words
/// (`=?UTF-8?B?…?=` / `=?UTF-8?Q?…?=`): the specification's "double encoding".
fn decode_rfc2047(value: &str) -> Option<String> {
    let inner = value.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let charset = parts.next()?;
    let encoding = parts.next()?;
    let text = parts.next()?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => BASE64.decode(text).ok()?,
        "Q" | "q" => {
            let mut out = Vec::with_capacity(text.len());
            let mut bytes = text.bytes();
            while let Some(b) = bytes.next() {
                match b {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let hex = [bytes.next()?, bytes.next()?];
                        let hex = std::str::from_utf8(&hex).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                    }
                    b => out.push(b),
                }
            }
            out
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::EncryptionContext;

    fn v3_kms() -> ContentMetadata {
        ContentMetadata::v3(
            vec![7; 40],
            KeyWrapping::Kms {
                context: EncryptionContext::for_object("u/a.txt")
                    .to_stored(ContentCipher::CommittingAesGcm),
            },
            MessageId::from_slice(&[1; 28]).unwrap(),
            Commitment::from_slice(&[2; 28]).unwrap(),
        )
        .unwrap()
    }

    fn pairs(map: &MetadataMap) -> Vec<(&str, &str)> {
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn v3_round_trips_and_accepts_prefixed_keys() {
        let metadata = v3_kms();
        let map = metadata.to_map();
        assert_eq!(ContentMetadata::parse(pairs(&map)).unwrap(), metadata);
        let prefixed: Vec<(String, String)> = map
            .iter()
            .map(|(k, v)| (format!("X-Amz-Meta-{k}"), v.clone()))
            .collect();
        let parsed =
            ContentMetadata::parse(prefixed.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(parsed, metadata);
    }

    #[test]
    fn rejects_what_the_spec_forbids() {
        let map = v3_kms().to_map();
        // (key, new value or `None` to remove the key, the error it must give)
        type Edit = (
            &'static str,
            Option<&'static str>,
            fn(&MetadataError) -> bool,
        );
        let edits: [Edit; 9] = [
            ("x-amz-iv", Some("AAAA"), |e| {
                matches!(e, MetadataError::MixedVersions(_))
            }),
            ("x-amz-3", None, |e| {
                matches!(e, MetadataError::InstructionFile)
            }),
            ("x-amz-c", Some("116"), |e| {
                matches!(e, MetadataError::UnauthenticatedCipher(_))
            }),
            ("x-amz-w", Some("22"), |e| {
                matches!(e, MetadataError::UnsupportedWrapping(_))
            }),
            ("x-amz-i", Some("AAAA"), |e| {
                matches!(
                    e,
                    MetadataError::Length {
                        key: "x-amz-i",
                        expected: 28,
                        actual: 3
                    }
                )
            }),
            ("x-amz-d", Some("not base64!"), |e| {
                matches!(e, MetadataError::Base64 { key: "x-amz-d" })
            }),
            ("x-amz-t", Some("{\"a\": 1}"), |e| {
                matches!(e, MetadataError::Json { key: "x-amz-t", .. })
            }),
            (
                "x-amz-t",
                Some(r#"{"aws:x-amz-cek-alg": "AES/GCM/NoPadding"}"#),
                |e| matches!(e, MetadataError::ContextCipher { .. }),
            ),
            ("x-amz-3", Some(""), |e| {
                matches!(e, MetadataError::EmptyDataKey)
            }),
        ];
        for (key, value, is_expected) in edits {
            let mut m = map.clone();
            match value {
                Some(value) => m.insert(key.into(), value.into()),
                None => m.remove(key),
            };
            let parsed = ContentMetadata::parse(pairs(&m));
            assert!(
                parsed.as_ref().is_err_and(is_expected),
                "{key} = {value:?}: {parsed:?}"
            );
        }
        assert!(matches!(
            ContentMetadata::parse([("x-amz-key", "AAAA"), ("x-amz-iv", "AAAA")]),
            Err(MetadataError::UnsupportedV1)
        ));
        assert!(matches!(
            ContentMetadata::parse([("content-type", "text/plain")]),
            Err(MetadataError::NotEncrypted)
        ));
    }

    #[test]
    fn v2_rejects_unauthenticated_and_odd_tags() {
        let v2 = ContentMetadata::v2(
            vec![9; 40],
            KeyWrapping::Kms {
                context: EncryptionContext::new().to_stored(ContentCipher::AesGcm),
            },
            Iv::from_slice(&[3; 12]).unwrap(),
        )
        .unwrap();
        let map = v2.to_map();
        assert_eq!(ContentMetadata::parse(pairs(&map)).unwrap(), v2);
        let mut cbc = map.clone();
        cbc.insert("x-amz-cek-alg".into(), "AES/CBC/PKCS5Padding".into());
        assert!(matches!(
            ContentMetadata::parse(pairs(&cbc)),
            Err(MetadataError::UnauthenticatedCipher(_))
        ));
        let mut tag = map.clone();
        tag.insert("x-amz-tag-len".into(), "96".into());
        assert!(matches!(
            ContentMetadata::parse(pairs(&tag)),
            Err(MetadataError::TagLength(_))
        ));
        let mut legacy_kms = map.clone();
        legacy_kms.insert("x-amz-wrap-alg".into(), "kms".into());
        assert!(matches!(
            ContentMetadata::parse(pairs(&legacy_kms)),
            Err(MetadataError::UnsupportedWrapping(_))
        ));
    }

    #[test]
    fn budget_counts_keys_and_values() {
        let metadata = v3_kms();
        let mut map = MetadataMap::new();
        metadata.write_into(&mut map).unwrap();
        let mut big = MetadataMap::new();
        big.insert("name".into(), "x".repeat(USER_METADATA_LIMIT));
        assert!(matches!(
            metadata.write_into(&mut big),
            Err(MetadataError::TooLarge { .. })
        ));
        // The map is left untouched on failure.
        assert_eq!(big.len(), 1);
    }

    #[test]
    fn decodes_s3_encoded_words() {
        assert_eq!(
            decode_rfc2047("=?UTF-8?B?eyLDvCI6ICJ4In0=?=").as_deref(),
            Some("{\"ü\": \"x\"}")
        );
        assert_eq!(
            decode_rfc2047("=?UTF-8?Q?=7B=22a=22:_=22b=22=7D?=").as_deref(),
            Some("{\"a\": \"b\"}")
        );
        assert_eq!(decode_rfc2047("{}"), None);
    }
}
