//! Who may touch which key, and which names are acceptable.
//!
//! Every user owns the prefix `<user>/`. Object names (the part after the
//! prefix) are UTF-8 (guaranteed by JSON), at most S3's 1024 bytes for the whole
//! key, without control characters, without empty, `.` or `..` segments, and
//! without a leading or trailing `/`. Such names can never be confused with a
//! path outside the prefix by any tool that treats keys as paths. New names
//! also carry no invisible format characters (bidirectional overrides,
//! zero-width characters), which would let a name display as something else.

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
/// User names are key prefixes; the rule lives with the accounts.
pub use sealdrop_state::validate_user_name;

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

/// Validates the name of an object about to be created: [`validate_name`], and
/// no character that changes how the name is displayed without being seen —
/// bidirectional overrides and isolates (`a\u{202E}gpj.exe` shows as
/// `aexe.jpg`), zero-width and other format characters, line and paragraph
/// separators. Only new names are checked: objects stored before this rule
/// stay readable and deletable under their names.
pub fn validate_new_name(name: &str, prefix_len: usize) -> Result<(), PolicyError> {
    validate_name(name, prefix_len)?;
    match name.chars().find(|&c| is_invisible_format(c)) {
        Some(c) => Err(PolicyError::InvalidName(format!(
            "it contains U+{:04X}, an invisible character that can disguise a name \
             (for example make a program look like a picture)",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// Unicode format characters (general category Cf) and the line and paragraph
/// separators (Zl, Zp), as of Unicode 15.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
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

        // New names may not hide how they read; existing ones stay reachable.
        for disguised in [
            "a\u{202E}gpj.exe",
            "report\u{2066}.pdf",
            "in\u{200B}voice",
            "x\u{FEFF}",
            "line\u{2028}break",
            "tag\u{E0041}",
        ] {
            assert!(validate_name(disguised, 6).is_ok(), "{disguised:?}");
            let err = validate_new_name(disguised, 6).unwrap_err().to_string();
            assert!(err.contains("U+"), "{disguised:?}: {err}");
        }
        for ok in ["über/日本.pdf", "עברית.txt", "العربية.pdf", "a b.txt"] {
            assert!(validate_new_name(ok, 6).is_ok(), "{ok}");
        }
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
