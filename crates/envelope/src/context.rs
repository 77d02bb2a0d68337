//! Encryption contexts (KMS wrapping) and material descriptions (raw AES wrapping).
//!
//! Two types keep the specification's two views apart:
//! - [`EncryptionContext`] is what a caller asks for. It can never contain the
//!   reserved keys.
//! - [`StoredContext`] is what is sent to KMS and stored in the object: the
//!   caller's context plus the reserved `aws:x-amz-cek-alg` entry. Comparing a
//!   stored context with a requested one follows `s3-kms-keyring.md`: the stored
//!   context with the reserved keys removed must equal the request.

use std::collections::BTreeMap;

use crate::error::ContextError;
use crate::json;
use crate::suite::ContentCipher;

/// The reserved context key naming the content cipher.
pub const CEK_ALG_KEY: &str = "aws:x-amz-cek-alg";
/// The reserved context key of the legacy KMS (V1) wrapping mode.
pub const KMS_CMK_ID_KEY: &str = "kms_cmk_id";
/// sealdrop's binding of a data key to the object it encrypts.
pub const OBJECT_KEY_CONTEXT_KEY: &str = "sealdrop:key";

/// String pairs in stored order with unique keys: the representation shared by
/// contexts and material descriptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Pairs(Vec<(String, String)>);

impl Pairs {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn push_unique(&mut self, key: String, value: String) -> Result<(), ContextError> {
        if self.get(&key).is_some() {
            return Err(ContextError::Duplicate(key));
        }
        self.0.push((key, value));
        Ok(())
    }

    fn as_map(&self) -> BTreeMap<&str, &str> {
        self.iter().collect()
    }
}

/// `get` and `iter` of a type that keeps its entries in a `pairs` field; the caller
/// documents `iter` (what the entries are, in which order).
macro_rules! pairs_accessors {
    ($(#[$iter_doc:meta])*) => {
        /// The value of `key`, if present.
        pub fn get(&self, key: &str) -> Option<&str> {
            self.pairs.get(key)
        }

        $(#[$iter_doc])*
        pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
            self.pairs.iter()
        }
    };
}

/// What a type stored in object metadata as a JSON object adds to `pairs_accessors`:
/// `from_pairs` (the parsed JSON) and `to_json`; the caller documents `to_json` (which
/// metadata keys hold it).
macro_rules! json_pairs {
    ($(#[$json_doc:meta])*) => {
        /// Parsed pairs (unique keys, checked by the JSON parser).
        pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
            Self {
                pairs: Pairs(pairs),
            }
        }

        $(#[$json_doc])*
        pub fn to_json(&self) -> String {
            json::write_object(self.pairs.iter())
        }
    };
}

fn is_reserved(key: &str) -> bool {
    // AWS KMS reserves the whole `aws:` prefix.
    key == KMS_CMK_ID_KEY || key.starts_with("aws:")
}

/// A caller's encryption context: string pairs in insertion order, unique keys,
/// none of them reserved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptionContext {
    pairs: Pairs,
}

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// sealdrop's context for an object: `{"sealdrop:key": "<object key>"}`.
    pub fn for_object(object_key: &str) -> Self {
        EncryptionContext {
            pairs: Pairs(vec![(
                OBJECT_KEY_CONTEXT_KEY.to_owned(),
                object_key.to_owned(),
            )]),
        }
    }

    /// Adds an entry; reserved and repeated keys are refused.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), ContextError> {
        let key = key.into();
        if key.is_empty() {
            return Err(ContextError::EmptyKey);
        }
        if is_reserved(&key) {
            return Err(ContextError::Reserved(key));
        }
        self.pairs.push_unique(key, value.into())
    }

    pairs_accessors! {
        /// The entries in insertion order.
    }

    /// The context to send to KMS and store, for objects encrypted with `cipher`.
    pub fn to_stored(&self, cipher: ContentCipher) -> StoredContext {
        let mut pairs = self.pairs.clone();
        pairs
            .0
            .push((CEK_ALG_KEY.to_owned(), cipher.context_value().to_owned()));
        StoredContext { pairs }
    }
}

/// An encryption context as stored in an object and given to KMS: may contain the
/// reserved keys. Parsed from metadata, or built by [`EncryptionContext::to_stored`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredContext {
    pairs: Pairs,
}

impl StoredContext {
    json_pairs! {
        /// The JSON stored in `x-amz-t` / `x-amz-matdesc`.
    }

    pairs_accessors! {
        /// All entries, reserved ones included: exactly what KMS must be given.
    }

    /// The caller-visible part: everything but the reserved keys.
    pub fn requested(&self) -> EncryptionContext {
        EncryptionContext {
            pairs: Pairs(
                self.pairs
                    .0
                    .iter()
                    .filter(|(k, _)| k != CEK_ALG_KEY && k != KMS_CMK_ID_KEY)
                    .cloned()
                    .collect(),
            ),
        }
    }

    /// The specification's check: stored minus reserved keys equals the request.
    pub fn matches(&self, requested: &EncryptionContext) -> bool {
        self.requested().pairs.as_map() == requested.pairs.as_map()
    }

    /// The object key this context binds the data key to, if any.
    pub fn object_key(&self) -> Option<&str> {
        self.get(OBJECT_KEY_CONTEXT_KEY)
    }
}

/// The material description of a raw-keyring wrapped key (`x-amz-m`, or
/// `x-amz-matdesc` in V2): free-form string pairs describing the wrapping key.
/// sealdrop stores the object binding here for its local keyring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaterialDescription {
    pairs: Pairs,
}

impl MaterialDescription {
    /// Builds a description from pairs, refusing repeated keys.
    pub fn new<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ContextError> {
        let mut out = MaterialDescription::default();
        for (k, v) in pairs {
            out.pairs.push_unique(k.into(), v.into())?;
        }
        Ok(out)
    }

    json_pairs! {
        /// The JSON stored in `x-amz-m` / `x-amz-matdesc`.
    }

    pairs_accessors! {
        /// The entries in stored order.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_cannot_be_requested() {
        let mut ctx = EncryptionContext::new();
        assert_eq!(
            ctx.insert(CEK_ALG_KEY, "115"),
            Err(ContextError::Reserved(CEK_ALG_KEY.into()))
        );
        assert!(ctx.insert("aws:anything", "x").is_err());
        assert!(ctx.insert(KMS_CMK_ID_KEY, "x").is_err());
        assert!(ctx.insert("", "x").is_err());
        ctx.insert("a", "1").unwrap();
        assert_eq!(
            ctx.insert("a", "2"),
            Err(ContextError::Duplicate("a".into()))
        );
    }

    #[test]
    fn stored_context_adds_the_cipher_and_matches_its_request() {
        let requested = EncryptionContext::for_object("alice/report.pdf");
        let stored = requested.to_stored(ContentCipher::CommittingAesGcm);
        assert_eq!(
            stored.to_json(),
            r#"{"sealdrop:key": "alice/report.pdf", "aws:x-amz-cek-alg": "115"}"#
        );
        assert!(stored.matches(&requested));
        assert!(!stored.matches(&EncryptionContext::for_object("alice/other.pdf")));
        assert!(!stored.matches(&EncryptionContext::new()));
        assert_eq!(stored.object_key(), Some("alice/report.pdf"));
        let v2 = requested.to_stored(ContentCipher::AesGcm);
        assert_eq!(v2.get(CEK_ALG_KEY), Some("AES/GCM/NoPadding"));
    }

    #[test]
    fn matching_ignores_order_and_both_reserved_keys() {
        let stored = StoredContext::from_pairs(vec![
            ("b".into(), "2".into()),
            (KMS_CMK_ID_KEY.into(), "k".into()),
            ("a".into(), "1".into()),
            (CEK_ALG_KEY.into(), "115".into()),
        ]);
        let mut requested = EncryptionContext::new();
        requested.insert("a", "1").unwrap();
        requested.insert("b", "2").unwrap();
        assert!(stored.matches(&requested));
        requested.insert("c", "3").unwrap();
        assert!(!stored.matches(&requested));
    }
}
