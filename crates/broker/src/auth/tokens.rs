//! Users and their bearer tokens, stored hashed in `<data_dir>/users.json`.
//!
//! A token is `sdt_` + 43 characters of base64url (256 random bits). Only its
//! SHA-256 is stored: tokens are random, so a fast hash loses nothing, and the
//! file leaking does not leak tokens. Lookup is by hash; the broker re-reads the
//! file when it changes, so `sealdrop admin user …` takes effect at once.
//! Writers (the admin commands) take an exclusive lock and replace the file
//! atomically (temp file, fsync, rename).

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::policy;

const TOKEN_PREFIX: &str = "sdt_";

/// Errors managing users.
#[derive(Debug, thiserror::Error)]
pub enum UserStoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid users file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("user {name:?} has no token {id:?}")]
    NoSuchToken { name: String, id: String },
    #[error("{0}")]
    InvalidName(String),
    #[error("the operating system's random number generator failed")]
    Randomness,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    users: Vec<UserRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct UserRecord {
    name: String,
    created_at: String,
    tokens: Vec<TokenRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct TokenRecord {
    /// Public identifier: the first 8 hex digits of the hash.
    id: String,
    /// Hex SHA-256 of the whole token.
    sha256: String,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
}

/// A user as `admin user list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct UserSummary {
    /// The user name (also their key prefix).
    pub name: String,
    /// When the user was created (RFC 3339).
    pub created_at: String,
    /// Their tokens.
    pub tokens: Vec<TokenSummary>,
}

/// A token as `admin user list` shows it (never the token itself).
#[derive(Clone, Debug, Serialize)]
pub struct TokenSummary {
    /// Public identifier.
    pub id: String,
    /// When it was issued.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// The users file, cached and re-read when it changes.
pub struct UserStore {
    path: PathBuf,
    cache: RwLock<Cache>,
}

/// What identifies one version of the users file.
type Stamp = (SystemTime, u64, u64);

#[derive(Default)]
struct Cache {
    stamp: Option<Stamp>,
    /// Active token hash → user name.
    active: HashMap<[u8; 32], String>,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl UserStore {
    /// A store over `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> UserStore {
        UserStore {
            path: path.into(),
            cache: RwLock::new(Cache::default()),
        }
    }

    fn io(&self, source: std::io::Error) -> UserStoreError {
        UserStoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read(&self) -> Result<UsersFile, UserStoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| UserStoreError::Parse {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile::default()),
            Err(e) => Err(self.io(e)),
        }
    }

    fn stamp(&self) -> Option<Stamp> {
        let meta = fs::metadata(&self.path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        // Writers replace the file by rename, so the inode changes on every write.
        Some((meta.modified().ok()?, meta.len(), inode))
    }

    /// The user a bearer token belongs to, if it is valid and not revoked.
    pub fn authenticate(&self, token: &str) -> Result<Option<String>, UserStoreError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let stamp = self.stamp();
        let fresh = self
            .cache
            .read()
            .map(|c| c.stamp.is_some() && c.stamp == stamp)
            .unwrap_or(false);
        if !fresh {
            let file = self.read()?;
            let active = file
                .users
                .iter()
                .flat_map(|u| {
                    u.tokens
                        .iter()
                        .filter(|t| t.revoked_at.is_none())
                        .filter_map(|t| {
                            let bytes: [u8; 32] = hex::decode(&t.sha256).ok()?.try_into().ok()?;
                            Some((bytes, u.name.clone()))
                        })
                })
                .collect();
            if let Ok(mut cache) = self.cache.write() {
                *cache = Cache { stamp, active };
            }
        }
        let digest = hash(token);
        Ok(self
            .cache
            .read()
            .ok()
            .and_then(|c| c.active.get(&digest).cloned()))
    }

    /// Creates a user with a first token; returns the token (shown once).
    pub fn add_user(&self, name: &str) -> Result<Zeroizing<String>, UserStoreError> {
        policy::validate_user_name(name).map_err(UserStoreError::InvalidName)?;
        self.update(|file| {
            if file.users.iter().any(|u| u.name == name) {
                return Err(UserStoreError::Exists(name.into()));
            }
            file.users.push(UserRecord {
                name: name.into(),
                created_at: now(),
                tokens: Vec::new(),
            });
            Ok(())
        })?;
        self.add_token(name)
    }

    /// Issues another token for an existing user; returns it (shown once).
    pub fn add_token(&self, name: &str) -> Result<Zeroizing<String>, UserStoreError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|_| UserStoreError::Randomness)?;
        let token = Zeroizing::new(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(*secret)));
        let digest = hex::encode(hash(&token));
        self.update(|file| {
            let user = file
                .users
                .iter_mut()
                .find(|u| u.name == name)
                .ok_or_else(|| UserStoreError::NoSuchUser(name.into()))?;
            user.tokens.push(TokenRecord {
                id: digest[..8].to_owned(),
                sha256: digest.clone(),
                created_at: now(),
                revoked_at: None,
            });
            Ok(())
        })?;
        Ok(token)
    }

    /// Revokes one token (by id) or all of a user's tokens; returns how many.
    pub fn revoke(&self, name: &str, token_id: Option<&str>) -> Result<usize, UserStoreError> {
        let mut count = 0;
        self.update(|file| {
            let user = file
                .users
                .iter_mut()
                .find(|u| u.name == name)
                .ok_or_else(|| UserStoreError::NoSuchUser(name.into()))?;
            let stamp = now();
            for token in user.tokens.iter_mut() {
                if token.revoked_at.is_none() && token_id.is_none_or(|id| id == token.id) {
                    token.revoked_at = Some(stamp.clone());
                    count += 1;
                }
            }
            if let Some(id) = token_id
                && !user.tokens.iter().any(|t| t.id == id)
            {
                return Err(UserStoreError::NoSuchToken {
                    name: name.into(),
                    id: id.into(),
                });
            }
            Ok(())
        })?;
        Ok(count)
    }

    /// Every user and their tokens (without secrets).
    pub fn list(&self) -> Result<Vec<UserSummary>, UserStoreError> {
        Ok(self
            .read()?
            .users
            .into_iter()
            .map(|u| UserSummary {
                name: u.name,
                created_at: u.created_at,
                tokens: u
                    .tokens
                    .into_iter()
                    .map(|t| TokenSummary {
                        id: t.id,
                        created_at: t.created_at,
                        revoked_at: t.revoked_at,
                    })
                    .collect(),
            })
            .collect())
    }

    /// Whether any user exists.
    pub fn is_empty(&self) -> Result<bool, UserStoreError> {
        Ok(self.read()?.users.is_empty())
    }

    /// Read-modify-write under an exclusive lock, replacing the file atomically.
    fn update(
        &self,
        change: impl FnOnce(&mut UsersFile) -> Result<(), UserStoreError>,
    ) -> Result<(), UserStoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let lock_path = self.path.with_extension("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;

        let mut file = self.read()?;
        change(&mut file)?;
        let json = serde_json::to_vec_pretty(&file).map_err(|source| UserStoreError::Parse {
            path: self.path.clone(),
            source,
        })?;
        let tmp = self.path.with_extension("tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = options.open(&tmp).map_err(|e| self.io(e))?;
        out.write_all(&json).map_err(|e| self.io(e))?;
        out.sync_all().map_err(|e| self.io(e))?;
        fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        // The lock is released when `lock` drops.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::new(dir.path().join("users.json"));
        assert!(store.is_empty().unwrap());
        let token = store.add_user("alice").unwrap();
        assert!(token.starts_with("sdt_") && token.len() == 4 + 43);
        assert_eq!(
            store.authenticate(&token).unwrap().as_deref(),
            Some("alice")
        );
        assert_eq!(store.authenticate("sdt_nope").unwrap(), None);
        assert_eq!(store.authenticate("Bearer x").unwrap(), None);
        assert!(matches!(
            store.add_user("alice"),
            Err(UserStoreError::Exists(_))
        ));
        assert!(matches!(
            store.add_user("../x"),
            Err(UserStoreError::InvalidName(_))
        ));

        // The file never contains the token.
        let text = fs::read_to_string(dir.path().join("users.json")).unwrap();
        assert!(!text.contains(token.as_str()));

        let second = store.add_token("alice").unwrap();
        let list = store.list().unwrap();
        assert_eq!(list[0].tokens.len(), 2);
        let first_id = list[0].tokens[0].id.clone();
        assert_eq!(store.revoke("alice", Some(&first_id)).unwrap(), 1);
        // A second store instance (another process) sees the change at once.
        assert_eq!(store.authenticate(&token).unwrap(), None);
        assert_eq!(
            store.authenticate(&second).unwrap().as_deref(),
            Some("alice")
        );
        assert_eq!(store.revoke("alice", None).unwrap(), 1);
        assert_eq!(store.authenticate(&second).unwrap(), None);
        assert!(matches!(
            store.revoke("bob", None),
            Err(UserStoreError::NoSuchUser(_))
        ));
    }
}
