//! User names: the one rule, with a type that holds only names that obey it.

use std::fmt;

const MAX_USER_LEN: usize = 64;

/// Checks a user name: `[a-z0-9][a-z0-9._-]{0,63}`, not ending in `.`. Names
/// are key prefixes (`<name>/`) and file-system-safe.
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

/// A user name that passed [`validate_user_name`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<UserName, String> {
        validate_user_name(name)?;
        Ok(UserName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["admin", "a", "alice.b", "x_y-z", "0abc", &"a".repeat(64)] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Alice",
            ".x",
            "-x",
            "x.",
            "a/b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(UserName::parse(bad).is_err(), "{bad}");
        }
    }
}
