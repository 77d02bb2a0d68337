//! Who may touch which key, and which names are acceptable.
//!
//! Every user owns the prefix `<user>/`. Object names (the part after the
//! prefix) are UTF-8 (guaranteed by JSON), at most S3's 1024 bytes for the whole
//! key, without control characters, without empty, `.` or `..` segments, and
//! without a leading or trailing `/`. Such names can never be confused with a
//! path outside the prefix by any tool that treats keys as paths.

/// Why a key, name or content type is refused. Mapped to HTTP at the edge
/// (`crate::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The object name breaks the naming rules.
    #[error("invalid object name: {0}")]
    InvalidName(String),
    /// The key is outside the user's prefix.
    #[error("you may only access keys under {prefix}")]
    Forbidden {
        /// The prefix the user owns.
        prefix: String,
    },
    /// The content type is not `type/subtype` in printable ASCII.
    #[error("invalid content type {0:?}: expected type/subtype in printable ASCII")]
    ContentType(String),
}

/// S3's limit on key length in bytes.
pub const MAX_KEY_LEN: usize = 1024;
const MAX_USER_LEN: usize = 64;

/// User names: `[a-z0-9][a-z0-9._-]{0,63}`, not ending in `.`. They are key
/// prefixes and file-system-safe.
pub fn validate_user_name(name: &str) -> Result<(), String> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let starts_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if name.is_empty()
        || name.len() > MAX_USER_LEN
        || !valid_chars
        || !starts_ok
        || name.ends_with('.')
    {
        return Err(format!(
            "user name {name:?} is not valid: use 1-{MAX_USER_LEN} lower-case letters, digits, \
             '.', '_' or '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// The key prefix a user owns.
pub fn user_prefix(user: &str) -> String {
    format!("{user}/")
}

/// Validates an object name relative to the user's prefix.
pub fn validate_name(name: &str, prefix_len: usize) -> Result<(), PolicyError> {
    let invalid = |why: &str| Err(PolicyError::InvalidName(why.to_owned()));
    if name.is_empty() {
        return invalid("it is empty");
    }
    if prefix_len + name.len() > MAX_KEY_LEN {
        return invalid(&format!(
            "it is {} bytes; with your prefix it must fit S3's {MAX_KEY_LEN}-byte key limit",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return invalid(&format!(
            "it contains the control character U+{:04X}",
            c as u32
        ));
    }
    if name.starts_with('/') || name.ends_with('/') {
        return invalid("it must not start or end with '/'");
    }
    for segment in name.split('/') {
        match segment {
            "" => return invalid("it contains an empty path segment ('//')"),
            "." | ".." => return invalid("it contains a '.' or '..' path segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that `user` may touch `key` and returns the name inside their prefix.
/// Another user's key is `403`; a malformed key is `400`.
pub fn authorize_key<'k>(user: &str, key: &'k str) -> Result<&'k str, PolicyError> {
    let prefix = user_prefix(user);
    let Some(name) = key.strip_prefix(&prefix) else {
        return Err(PolicyError::Forbidden { prefix });
    };
    validate_name(name, prefix.len())?;
    Ok(name)
}

/// Validates a content type: a `type/subtype` token pair with optional
/// parameters, printable ASCII, at most 255 bytes (it becomes a signed header).
pub fn validate_content_type(value: &str) -> Result<(), PolicyError> {
    let printable = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    let shape = value
        .split(';')
        .next()
        .and_then(|essence| essence.trim().split_once('/'))
        .is_some_and(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !t.contains(' ') && !s.contains(' ')
        });
    if value.len() > 255 || !printable || !shape {
        return Err(PolicyError::ContentType(value.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["alice", "a", "bob-2", "x.y_z", "0"] {
            assert!(validate_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "-a", "a/b", "..", "a.", "é", &"a".repeat(65)] {
            assert!(validate_user_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_keys() {
        for ok in [
            "a.txt",
            "dir/a b.txt",
            "über/日本.pdf",
            "...",
            "a..b",
            ".hidden",
        ] {
            assert!(validate_name(ok, 6).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../x", "a/../b", "a/./b", ".", "a\nb", "a\u{7f}", "a\u{85}b",
        ] {
            assert!(
                matches!(validate_name(bad, 6), Err(PolicyError::InvalidName(_))),
                "{bad:?}"
            );
        }
        assert!(validate_name(&"x".repeat(1018), 6).is_ok());
        assert!(validate_name(&"x".repeat(1019), 6).is_err());

        assert_eq!(authorize_key("alice", "alice/a.txt").unwrap(), "a.txt");
        assert!(matches!(
            authorize_key("alice", "bob/a.txt"),
            Err(PolicyError::Forbidden { .. })
        ));
        assert!(matches!(
            authorize_key("alice", "alicex/a"),
            Err(PolicyError::Forbidden { .. })
        ));
        assert!(matches!(
            authorize_key("alice", "alice/../bob/a"),
            Err(PolicyError::InvalidName(_))
        ));
    }

    #[test]
    fn content_types() {
        for ok in ["text/plain", "application/pdf", "text/plain; charset=utf-8"] {
            assert!(validate_content_type(ok).is_ok());
        }
        for bad in ["", "text", "a/b\r\nx: y", "tëxt/plain", "/x"] {
            assert!(validate_content_type(bad).is_err(), "{bad:?}");
        }
    }
}
