//! The binding of objects that storage decrypts (SSE-KMS) to their key.
//!
//! A client-side encrypted object is bound to its key by its data key (the
//! KMS encryption context, or the local keyring's MAC). An SSE object has
//! nothing of the kind: storage decrypts it for whoever holds a GET URL, so an
//! object copied into another user's prefix — by someone with bucket access,
//! or through a backend that runs presigned PUTs with unsigned extra headers as
//! copies — would download there. So the broker signs a MAC over the object's
//! key and stored size into the upload's metadata (`x-amz-meta-sealdrop-binding`,
//! a signed header the client cannot change) and checks it at `open`: a copy
//! carries the MAC of the key it came from, and none can be made for another
//! key without the broker's secret.
//!
//! The secret is one per deployment, shared by replicas through the state
//! database as an envelope only the deployment's key provider opens (the same
//! machinery as an object's data key, bound to a name no object can have).
//! Objects last modified before the secret was created carry no MAC and are
//! accepted as they were ("written before binding"); any other object without
//! a valid MAC is refused with an integrity error that says so.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sealdrop_envelope::ContentMetadata;
use sealdrop_state::Database;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::keys::{KeyProvider, NewDataKey};
use crate::storage::ObjectHead;

/// The metadata entry (without `x-amz-meta-`) that holds an object's binding.
pub const BINDING_META: &str = "sealdrop-binding";

/// Bindings are `1.<base64url HMAC-SHA256>`; the version is for a later MAC.
const VERSION: &str = "1.";

/// The name of the secret in the state database.
const SECRET_NAME: &str = "object-binding-v1";

/// What the secret's data key is bound to, as an object's is to its key. No
/// object has this key: every user's key starts with `<user>/`, and user names
/// have no `:`.
const SECRET_OBJECT: &str = "sealdrop:object-binding-key";

/// Domain separation for the MAC input.
const LABEL: &[u8] = b"sealdrop object binding v1\0";

/// Why the binding secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// The state database failed.
    #[error(transparent)]
    State(#[from] sealdrop_state::StateError),
    /// The key provider could not make or open the secret.
    #[error("the object binding key could not be opened: {0}")]
    Key(String),
}

/// The deployment's binding secret. Invariant: `mac_key` is the data key of
/// the stored envelope, checked against its key commitment.
pub struct BindingKey {
    mac_key: Zeroizing<[u8; 32]>,
    since_ms: i64,
}

impl fmt::Debug for BindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindingKey")
            .field("since_ms", &self.since_ms)
            .finish_non_exhaustive()
    }
}

impl BindingKey {
    /// The deployment's secret: opened from the state database, or made
    /// (wrapped by `keys`) and stored if this is the first start. An envelope
    /// wrapped by a key that is no longer the current one is wrapped anew
    /// under the current key, so the old key can be retired after a rotation.
    pub async fn load_or_create(
        db: &Database,
        keys: &dyn KeyProvider,
    ) -> Result<BindingKey, BindingError> {
        let key_failed = |e: &dyn fmt::Display| BindingError::Key(e.to_string());
        let stored = match db.deployment_key(SECRET_NAME).await? {
            Some(stored) => stored,
            None => {
                let sealed = keys
                    .generate(SECRET_OBJECT)
                    .await
                    .and_then(NewDataKey::seal_v3)
                    .map_err(|e| key_failed(&e))?;
                let json =
                    serde_json::to_string(&sealed.envelope.to_map()).map_err(|e| key_failed(&e))?;
                db.add_deployment_key(SECRET_NAME, &json).await?
            }
        };
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&stored.envelope).map_err(|e| key_failed(&e))?;
        let envelope = ContentMetadata::parse(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| key_failed(&e))?;
        let opened = keys
            .open(&envelope, SECRET_OBJECT)
            .await
            .map_err(|e| key_failed(&e))?;
        opened
            .verify_commitment(&envelope)
            .map_err(|e| key_failed(&e))?;
        if opened.key_id != keys.key_id() {
            rewrap(db, keys, envelope).await;
        }
        Ok(BindingKey {
            mac_key: Zeroizing::new(*opened.data_key.expose_secret()),
            since_ms: stored.created_at_ms,
        })
    }

    /// A key of its own, for tests and tools that need no deployment.
    pub fn from_secret(secret: [u8; 32], since_ms: i64) -> BindingKey {
        BindingKey {
            mac_key: Zeroizing::new(secret),
            since_ms,
        }
    }

    fn mac(&self, key: &str, stored_size: u64) -> Hmac<Sha256> {
        // A 32-byte key is always a valid HMAC key.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.mac_key.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(LABEL);
        mac.update(&(key.len() as u64).to_be_bytes());
        mac.update(key.as_bytes());
        mac.update(&stored_size.to_be_bytes());
        mac
    }

    /// The binding of an object of `stored_size` bytes at `key`, for its
    /// [`BINDING_META`] metadata entry.
    pub fn tag(&self, key: &str, stored_size: u64) -> String {
        let tag = self.mac(key, stored_size).finalize().into_bytes();
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks that the object `head` describes belongs at `key`: its binding
    /// matches (compared in constant time), or it carries none and was last
    /// modified before bindings began.
    pub fn check(&self, key: &str, head: &ObjectHead) -> Result<(), ApiError> {
        let Some(binding) = head.metadata.get(BINDING_META) else {
            return match head.last_modified_secs {
                // Storage dates in whole seconds: only a second that ended
                // before the secret existed is "before".
                Some(modified) if (modified + 1).saturating_mul(1000) <= self.since_ms => Ok(()),
                // (No key in these messages: keys may be long, and people
                // see server text cut at 200 characters.)
                _ => Err(ApiError::Integrity(
                    "integrity check failed: the object has no sealdrop binding, so it was not \
                     uploaded through sealdrop here; an operator can adopt it with `sealdrop \
                     admin encrypt-existing`"
                        .into(),
                )),
            };
        };
        let valid = binding
            .strip_prefix(VERSION)
            .and_then(|tag| URL_SAFE_NO_PAD.decode(tag).ok())
            .is_some_and(|tag| self.mac(key, head.size).verify_slice(&tag).is_ok());
        if valid {
            Ok(())
        } else {
            Err(ApiError::Integrity(
                "integrity check failed: the object's sealdrop binding is for another key or \
                 size: it was copied or moved here, or changed in storage; no download is \
                 handed out"
                    .into(),
            ))
        }
    }
}

/// Wraps the secret anew under the current key; on failure the old envelope
/// stays (it still opens while the old key is usable) and the reason is logged.
async fn rewrap(db: &Database, keys: &dyn KeyProvider, envelope: ContentMetadata) {
    let rewrapped = async {
        let (wrapped, _) = keys
            .rewrap(&envelope, SECRET_OBJECT, keys.key_id())
            .await
            .map_err(|e| e.to_string())?;
        let envelope = envelope
            .with_encrypted_data_key(wrapped)
            .map_err(|e| e.to_string())?;
        let json = serde_json::to_string(&envelope.to_map()).map_err(|e| e.to_string())?;
        db.rewrap_deployment_key(SECRET_NAME, &json)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(why) = rewrapped.await {
        tracing::warn!(%why, "could not wrap the object binding key under the current key");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(size: u64, binding: Option<String>, modified: i64) -> ObjectHead {
        ObjectHead {
            size,
            last_modified_secs: Some(modified),
            metadata: binding
                .map(|b| [(BINDING_META.to_owned(), b)].into_iter().collect())
                .unwrap_or_default(),
            ..ObjectHead::default()
        }
    }

    #[test]
    fn a_binding_holds_for_its_key_and_size_only() {
        let since = 1_700_000_000;
        let key = BindingKey::from_secret([7; 32], since * 1000);
        let tag = key.tag("alice/report.pdf", 1234);
        assert!(tag.starts_with("1."));
        assert!(
            key.check(
                "alice/report.pdf",
                &head(1234, Some(tag.clone()), since + 5)
            )
            .is_ok()
        );
        for (at, size) in [("bob/report.pdf", 1234), ("alice/report.pdf", 1235)] {
            let err = key
                .check(at, &head(size, Some(tag.clone()), since + 5))
                .unwrap_err();
            assert!(err.to_string().contains("copied or moved"), "{err}");
            assert!(
                err.to_string().chars().count() <= 200,
                "fits a CLI line: {err}"
            );
        }
        // Another deployment's secret, a mangled tag, another version.
        let other = BindingKey::from_secret([8; 32], since * 1000);
        assert!(
            other
                .check(
                    "alice/report.pdf",
                    &head(1234, Some(tag.clone()), since + 5)
                )
                .is_err()
        );
        for bad in ["1.", "1.!!", "2.AAAA", "", &tag[..tag.len() - 1]] {
            assert!(
                key.check(
                    "alice/report.pdf",
                    &head(1234, Some(bad.to_owned()), since + 5)
                )
                .is_err(),
                "{bad:?}"
            );
        }
        // No binding: fine before bindings began, refused after.
        assert!(
            key.check("alice/old.pdf", &head(1, None, since - 1))
                .is_ok()
        );
        let err = key
            .check("alice/new.pdf", &head(1, None, since))
            .unwrap_err();
        assert!(err.to_string().contains("no sealdrop binding"), "{err}");
        assert!(
            err.to_string().chars().count() <= 200,
            "fits a CLI line: {err}"
        );
        assert!(
            !format!("{key:?}").contains("mac_key"),
            "the secret is not in Debug"
        );
    }
}
