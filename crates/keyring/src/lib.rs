//! # sealdrop-keyring
//!
//! The embedded local keyring: one 256-bit AES wrapping key in a file in the data
//! directory, standing in for KMS when sealdrop runs with zero configuration.
//!
//! - **Client-side encryption**: data keys are wrapped exactly as an S3 Encryption
//!   Client AES keyring wraps them (`x-amz-w: 02`, see
//!   [`sealdrop_envelope::wrap`]), so any S3EC given this raw key can read the
//!   objects. Because the S3EC AES wrapping binds nothing about *which object* a
//!   key belongs to, the material description also carries
//!   `sealdrop:binding`: an HMAC (under a key derived from the wrapping key) of the
//!   wrapped data key and the object key. An object copied or renamed by someone
//!   with bucket access — even with rewritten metadata — fails that check.
//! - **SSE-KMS at rest** in the embedded store: per-object data keys wrapped with a
//!   separate derived key and the caller's context as AAD.
//!
//! The file must be private (mode 0600): [`LocalKeyring::open_or_create`] refuses
//! a file readable by others. Losing it loses every object it protects; back it up.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sealdrop_envelope::{
    ContentCipher, ContentMetadata, DataKey, KeyWrapping, MaterialDescription,
    OBJECT_KEY_CONTEXT_KEY, WrappingKey, wrap,
};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Material-description entry naming the keyring (its key id).
pub const KEYRING_ID_ENTRY: &str = "sealdrop:keyring";
/// Material-description entry holding the object binding MAC.
pub const BINDING_ENTRY: &str = "sealdrop:binding";

const FILE_HEADER: &str = "\
# sealdrop local keyring: the master key of every object this sealdrop encrypts.
# Keep it secret (mode 0600) and back it up: without it those objects cannot be
# decrypted. The key is a raw AES-256 key, usable by any S3 Encryption Client
# AES keyring to read client-side encrypted objects.
";

/// Errors of the local keyring. Messages never include key material.
#[allow(missing_docs)] // each variant is documented by its message
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("keyring file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "keyring file {path} is accessible to other users (mode {mode:o}); \
         restrict it with `chmod 600 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("keyring file {path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: &'static str },
    #[error(
        "the data key is not wrapped by this keyring (it names keyring {found:?}, this is {expected:?})"
    )]
    WrongKeyring { expected: String, found: String },
    #[error("the data key is not wrapped with AES/GCM (it is a KMS key)")]
    NotLocal,
    #[error(
        "the object's key binding does not match: it was copied or renamed from another key, \
         or its metadata was modified"
    )]
    Binding,
    #[error(
        "the wrapped data key does not unwrap: the metadata was modified or the keyring is different"
    )]
    Unwrap,
    #[error("the operating system's random number generator failed")]
    Randomness,
}

/// A data key freshly generated for one object, with what the metadata stores.
pub struct GeneratedKey {
    /// The plaintext data key (for the client that encrypts).
    pub data_key: DataKey,
    /// The wrapped data key (`x-amz-3`).
    pub encrypted_data_key: Vec<u8>,
    /// How it is wrapped (AES/GCM with the material description).
    pub wrapping: KeyWrapping,
}

/// The local keyring. See the crate docs.
pub struct LocalKeyring {
    wrapping_key: WrappingKey,
    key_id: String,
    binding_key: Zeroizing<[u8; 32]>,
    sse_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Whether [`LocalKeyring::open_or_create`] made a new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The file existed.
    Existing,
    /// A new key was generated and written.
    Created,
}

impl LocalKeyring {
    /// Opens the keyring at `path`, creating a new random key (mode 0600) if the
    /// file does not exist. Refuses a file that others can read.
    pub fn open_or_create(path: &Path) -> Result<(LocalKeyring, Opened), KeyringError> {
        match fs::symlink_metadata(path) {
            Ok(_) => Ok((Self::open(path)?, Opened::Existing)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = WrappingKey::generate().map_err(|_| KeyringError::Randomness)?;
                if write_new(path, &key)? {
                    Ok((Self::from_key(key), Opened::Created))
                } else {
                    // Another process created it first: its key is the keyring.
                    Ok((Self::open(path)?, Opened::Existing))
                }
            }
            Err(source) => Err(KeyringError::Io {
                path: path.into(),
                source,
            }),
        }
    }

    /// Opens an existing keyring file.
    pub fn open(path: &Path) -> Result<LocalKeyring, KeyringError> {
        check_private(path)?;
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyringError::Io {
            path: path.into(),
            source,
        })?);
        let malformed = |reason| KeyringError::Malformed {
            path: path.into(),
            reason,
        };
        let mut key_b64 = None;
        let mut key_id = None;
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("key = ") {
                key_b64 = Some(v.trim_matches('"'));
            } else if let Some(v) = line.strip_prefix("key_id = ") {
                key_id = Some(v.trim_matches('"'));
            }
        }
        let key_bytes = Zeroizing::new(
            BASE64
                .decode(key_b64.ok_or_else(|| malformed("no `key = ` line"))?)
                .map_err(|_| malformed("the key is not base64"))?,
        );
        let key = WrappingKey::from_slice(&key_bytes)
            .map_err(|_| malformed("the key is not 32 bytes"))?;
        let keyring = Self::from_key(key);
        if key_id.is_some_and(|id| id != keyring.key_id) {
            return Err(malformed("key_id does not belong to this key"));
        }
        Ok(keyring)
    }

    /// A keyring over an in-memory key (tests, or keys from a secret manager).
    pub fn from_key(wrapping_key: WrappingKey) -> LocalKeyring {
        let hk = Hkdf::<Sha256>::new(None, wrapping_key.expose_secret());
        let derive = |info: &[u8]| {
            let mut out = Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA256's output limit.
            if hk.expand(info, out.as_mut()).is_err() {
                unreachable!("HKDF-SHA256 can expand 32 bytes");
            }
            out
        };
        let id_bytes = derive(b"sealdrop keyring v1: key id");
        LocalKeyring {
            key_id: format!("local:{}", hex::encode(&id_bytes[..8])),
            binding_key: derive(b"sealdrop keyring v1: object binding"),
            sse_key: derive(b"sealdrop keyring v1: sse data keys"),
            wrapping_key,
        }
    }

    /// The keyring's public identifier, `local:<16 hex digits>` (derived from the key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A new data key for `object_key`, wrapped for S3EC V3 metadata.
    pub fn generate_for_object(&self, object_key: &str) -> Result<GeneratedKey, KeyringError> {
        let data_key = DataKey::generate().map_err(|_| KeyringError::Randomness)?;
        let encrypted_data_key = wrap::wrap_data_key(
            &self.wrapping_key,
            &data_key,
            ContentCipher::CommittingAesGcm,
        )
        .map_err(|_| KeyringError::Randomness)?;
        let bound = [
            (OBJECT_KEY_CONTEXT_KEY, object_key),
            (KEYRING_ID_ENTRY, self.key_id.as_str()),
        ];
        let binding = BASE64.encode(
            self.binding_mac(&encrypted_data_key, bound.iter().copied())
                .finalize()
                .into_bytes(),
        );
        let description =
            MaterialDescription::new(bound.into_iter().chain([(BINDING_ENTRY, binding.as_str())]))
                .map_err(|_| KeyringError::Binding)?;
        Ok(GeneratedKey {
            data_key,
            encrypted_data_key,
            wrapping: KeyWrapping::AesGcm { description },
        })
    }

    /// Unwraps the data key of an object read as `object_key`, after checking that
    /// the key was wrapped by this keyring *for this object key*.
    pub fn unwrap_for_object(
        &self,
        metadata: &ContentMetadata,
        object_key: &str,
    ) -> Result<DataKey, KeyringError> {
        let KeyWrapping::AesGcm { description } = metadata.wrapping() else {
            return Err(KeyringError::NotLocal);
        };
        match description.get(KEYRING_ID_ENTRY) {
            Some(id) if id == self.key_id => {}
            found => {
                return Err(KeyringError::WrongKeyring {
                    expected: self.key_id.clone(),
                    found: found.unwrap_or("<none>").to_owned(),
                });
            }
        }
        if description.get(OBJECT_KEY_CONTEXT_KEY) != Some(object_key) {
            return Err(KeyringError::Binding);
        }
        let stored = description
            .get(BINDING_ENTRY)
            .and_then(|b| BASE64.decode(b).ok())
            .ok_or(KeyringError::Binding)?;
        let bound = description.iter().filter(|(k, _)| *k != BINDING_ENTRY);
        self.binding_mac(metadata.encrypted_data_key(), bound)
            .verify_slice(&stored)
            .map_err(|_| KeyringError::Binding)?;
        wrap::unwrap_data_key(
            &self.wrapping_key,
            metadata.encrypted_data_key(),
            metadata.cipher(),
        )
        .map_err(|_| KeyringError::Unwrap)
    }

    /// The MAC binding the wrapped key to every other entry of the material
    /// description (the object key and keyring id among them), in stored order.
    /// Every field is length-prefixed, so no two inputs share an encoding.
    fn binding_mac<'a>(
        &self,
        encrypted_data_key: &[u8],
        entries: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(self.binding_key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        let mut field = |bytes: &[u8]| {
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        };
        field(encrypted_data_key);
        for (key, value) in entries {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        mac
    }

    /// A new per-object data key for SSE at rest, wrapped with `context` as AAD.
    pub fn generate_sse_key(&self, context: &[u8]) -> Result<(DataKey, Vec<u8>), KeyringError> {
        let data_key = DataKey::generate().map_err(|_| KeyringError::Randomness)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| KeyringError::Randomness)?;
        let sealed = Aes256Gcm::new((&*self.sse_key).into())
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: data_key.expose_secret(),
                    aad: context,
                },
            )
            .map_err(|_| KeyringError::Randomness)?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok((data_key, wrapped))
    }

    /// Unwraps an SSE data key; fails if `wrapped` or `context` was altered.
    pub fn decrypt_sse_key(&self, wrapped: &[u8], context: &[u8]) -> Result<DataKey, KeyringError> {
        if wrapped.len() != 12 + 32 + 16 {
            return Err(KeyringError::Unwrap);
        }
        let (nonce, sealed) = wrapped.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| KeyringError::Unwrap)?;
        let plain = Zeroizing::new(
            Aes256Gcm::new((&*self.sse_key).into())
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: sealed,
                        aad: context,
                    },
                )
                .map_err(|_| KeyringError::Unwrap)?,
        );
        DataKey::from_slice(&plain).map_err(|_| KeyringError::Unwrap)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.into(),
        source,
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), KeyringError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(io_err(path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyringError::Permissions {
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), KeyringError> {
    Ok(())
}

/// Writes a new keyring file at `path` atomically (temp file (0600) + fsync +
/// hard link) unless one appears there meanwhile; returns whether this key was
/// published. Never replaces an existing file: a second process starting on the
/// same empty data directory must not swap the key under the first one.
fn write_new(path: &Path, key: &WrappingKey) -> Result<bool, KeyringError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let keyring =
        LocalKeyring::from_key(WrappingKey::from_slice(key.expose_secret()).map_err(|_| {
            KeyringError::Malformed {
                path: path.into(),
                reason: "bad key length",
            }
        })?);
    let encoded = Zeroizing::new(BASE64.encode(key.expose_secret()));
    let content = Zeroizing::new(format!(
        "{FILE_HEADER}key_id = \"{}\"\nkey = \"{}\"\n",
        keyring.key_id(),
        encoded.as_str()
    ));
    // Named after this key: concurrent creators never share a temporary file.
    let tmp = path.with_extension(format!("{}.tmp", keyring.key_id().replace(':', "-")));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = fs::remove_file(&tmp);
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    file.write_all(content.as_bytes()).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    // A hard link publishes the complete file atomically and, unlike a rename,
    // fails if the name exists.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io_err(path)(e)),
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_envelope::{Encryptor, MessageId, commitment, open, seal};

    fn keyring() -> LocalKeyring {
        LocalKeyring::from_key(WrappingKey::generate().unwrap())
    }

    fn metadata_for(keyring: &LocalKeyring, key: &str) -> (DataKey, ContentMetadata) {
        let generated = keyring.generate_for_object(key).unwrap();
        let message_id = MessageId::generate().unwrap();
        let commitment = commitment(&generated.data_key, &message_id);
        let metadata = ContentMetadata::v3(
            generated.encrypted_data_key,
            generated.wrapping,
            message_id,
            commitment,
        )
        .unwrap();
        (generated.data_key, metadata)
    }

    #[test]
    fn round_trip_through_s3ec_metadata() {
        let kr = keyring();
        let (data_key, metadata) = metadata_for(&kr, "alice/a.txt");
        let map = metadata.to_map();
        assert_eq!(map["x-amz-w"], "02");
        assert!(map["x-amz-m"].contains("\"sealdrop:key\": \"alice/a.txt\""));
        let parsed =
            ContentMetadata::parse(map.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let unwrapped = kr.unwrap_for_object(&parsed, "alice/a.txt").unwrap();
        assert_eq!(unwrapped.expose_secret(), data_key.expose_secret());
        let (message_id, _) = v3_params(&parsed);
        let object = seal(Encryptor::v3(&data_key, message_id), b"hi").unwrap();
        assert_eq!(*open(&parsed, &unwrapped, &object).unwrap(), b"hi");
    }

    use sealdrop_envelope::{Commitment, ContentParams};

    /// Copies of a V3 object's message ID and commitment (move-only), to
    /// build metadata that differs only in its description.
    fn v3_params(metadata: &ContentMetadata) -> (MessageId, Commitment) {
        let ContentParams::V3 {
            message_id,
            commitment,
        } = metadata.params()
        else {
            unreachable!()
        };
        (
            MessageId::from_slice(message_id.as_bytes()).unwrap(),
            *commitment,
        )
    }

    /// A V3 object's metadata with its material description replaced by `pairs`: the same
    /// wrapped key, message ID and commitment.
    fn with_description(
        metadata: &ContentMetadata,
        pairs: Vec<(String, String)>,
    ) -> ContentMetadata {
        let (message_id, commitment) = v3_params(metadata);
        ContentMetadata::v3(
            metadata.encrypted_data_key().to_vec(),
            KeyWrapping::AesGcm {
                description: MaterialDescription::new(pairs).unwrap(),
            },
            message_id,
            commitment,
        )
        .unwrap()
    }

    #[test]
    fn copied_or_relabelled_objects_do_not_unwrap() {
        let kr = keyring();
        let (_, metadata) = metadata_for(&kr, "alice/a.txt");
        assert!(matches!(
            kr.unwrap_for_object(&metadata, "alice/b.txt"),
            Err(KeyringError::Binding)
        ));
        // Rewriting sealdrop:key in the description does not help without the MAC key.
        let KeyWrapping::AesGcm { description } = metadata.wrapping().clone() else {
            unreachable!()
        };
        let forged: Vec<(String, String)> = description
            .iter()
            .map(|(k, v)| {
                let v = if k == OBJECT_KEY_CONTEXT_KEY {
                    "alice/b.txt"
                } else {
                    v
                };
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let forged = with_description(&metadata, forged);
        assert!(matches!(
            kr.unwrap_for_object(&forged, "alice/b.txt"),
            Err(KeyringError::Binding)
        ));
        // Adding an entry to the description is detected too.
        let mut extra: Vec<(String, String)> = description
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        extra.insert(0, ("extra".into(), "entry".into()));
        let extended = with_description(&metadata, extra);
        assert!(matches!(
            kr.unwrap_for_object(&extended, "alice/a.txt"),
            Err(KeyringError::Binding)
        ));
        // Another keyring is named as such.
        assert!(matches!(
            keyring().unwrap_for_object(&metadata, "alice/a.txt"),
            Err(KeyringError::WrongKeyring { .. })
        ));
    }

    #[test]
    fn sse_keys_are_bound_to_their_context() {
        let kr = keyring();
        let (dk, wrapped) = kr.generate_sse_key(b"bucket/key").unwrap();
        assert_eq!(
            kr.decrypt_sse_key(&wrapped, b"bucket/key")
                .unwrap()
                .expose_secret(),
            dk.expose_secret()
        );
        assert!(kr.decrypt_sse_key(&wrapped, b"bucket/other").is_err());
        let mut bad = wrapped.clone();
        bad[20] ^= 1;
        assert!(kr.decrypt_sse_key(&bad, b"bucket/key").is_err());
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let ids: Vec<(String, Opened)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let (keyring, opened) = LocalKeyring::open_or_create(&path).unwrap();
                        (keyring.key_id().to_owned(), opened)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = LocalKeyring::open(&path).unwrap();
        assert!(ids.iter().all(|(id, _)| id == on_disk.key_id()), "{ids:?}");
        let created = ids.iter().filter(|(_, o)| *o == Opened::Created).count();
        assert_eq!(created, 1, "{ids:?}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the keyring remains");
    }

    #[test]
    fn file_is_created_private_persists_and_refuses_loose_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let (first, opened) = LocalKeyring::open_or_create(&path).unwrap();
        assert_eq!(opened, Opened::Created);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, opened) = LocalKeyring::open_or_create(&path).unwrap();
        assert_eq!(opened, Opened::Existing);
        assert_eq!(first.key_id(), again.key_id());
        assert!(first.key_id().starts_with("local:"));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalKeyring::open(&path).unwrap_err();
        assert!(matches!(err, KeyringError::Permissions { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "key = \"AAAA\"\n").unwrap();
        assert!(matches!(
            LocalKeyring::open(&path),
            Err(KeyringError::Malformed { .. })
        ));
    }
}
