//! Share links as people pass them around: `<broker>/s/<id>#<secret>`.
//!
//! The secret rides in the fragment, which a browser never sends to the
//! server that serves the page; both clients send id and secret to the broker
//! in a JSON body ([`ShareLink::credentials`]), never in a URL, so neither
//! shows up in an access log or a `Referer`. This module is the one place the
//! link's shape is written and read.

use sealdrop_api::{OpenShareRequest, SecretString, ShareCredentials, routes};
use zeroize::Zeroizing;

/// A share link, taken apart.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareLink {
    base: String,
    id: String,
    secret: SecretString,
}

impl std::fmt::Debug for ShareLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareLink")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Why text is not a share link. Never repeats the text: it holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not an http(s) URL with `/s/<id>`.
    #[error("not a sealdrop share link: expected https://<server>/s/<id>#<secret>")]
    Shape,
    /// The `#<secret>` part is missing or mangled.
    #[error(
        "the share link is incomplete: the part after # is missing or damaged — copy the whole link"
    )]
    Secret,
}

/// Whether `text` could be an id or secret: base64url, no padding.
fn is_token(text: &str, max_len: usize) -> bool {
    !text.is_empty()
        && text.len() <= max_len
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ShareLink {
    /// The link to share `id` with `secret` on the broker at `base` (its
    /// public URL, e.g. `https://files.example.com`).
    pub fn new(base: &str, id: &str, secret: &SecretString) -> ShareLink {
        ShareLink {
            base: base.trim_end_matches('/').to_owned(),
            id: id.to_owned(),
            secret: secret.clone(),
        }
    }

    /// Reads a link as it was pasted (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<ShareLink, LinkError> {
        let text = text.trim();
        let (url, secret) = text.split_once('#').ok_or(LinkError::Secret)?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(LinkError::Shape);
        }
        let (base, id) = url
            .trim_end_matches('/')
            .rsplit_once(routes::SHARE_PAGE)
            .ok_or(LinkError::Shape)?;
        if !is_token(id, 64) || base.ends_with(':') || base.ends_with('/') {
            return Err(LinkError::Shape);
        }
        if !is_token(secret, 128) {
            return Err(LinkError::Secret);
        }
        Ok(ShareLink {
            base: base.to_owned(),
            id: id.to_owned(),
            secret: SecretString::new(secret.to_owned()),
        })
    }

    /// The broker's base URL (what API routes are appended to).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The share's public id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The whole link, to show or copy. It holds the secret.
    pub fn to_url(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}{}{}#{}",
            self.base,
            routes::SHARE_PAGE,
            self.id,
            self.secret.expose()
        ))
    }

    /// The body of `POST /public/share`.
    pub fn credentials(&self) -> ShareCredentials {
        ShareCredentials {
            id: self.id.clone(),
            secret: self.secret.clone(),
        }
    }

    /// The body of `POST /public/share/open` for file `index`.
    pub fn open_request(&self, index: u32) -> OpenShareRequest {
        OpenShareRequest {
            id: self.id.clone(),
            secret: self.secret.clone(),
            file: index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-_0";

    #[test]
    fn a_link_reads_back_as_written() {
        for base in [
            "https://files.example.com",
            "http://127.0.0.1:8080",
            "https://example.com/sealdrop",
        ] {
            let link = ShareLink::new(
                &format!("{base}/"),
                "AbC-_123",
                &SecretString::new(SECRET.into()),
            );
            let url = link.to_url();
            assert_eq!(*url, format!("{base}/s/AbC-_123#{SECRET}"));
            let parsed = ShareLink::parse(&format!("  {}\n", *url)).unwrap();
            assert_eq!(parsed, link);
            assert_eq!(parsed.base(), base);
            assert_eq!(parsed.credentials().secret.expose(), SECRET);
            assert_eq!(parsed.open_request(2).file, 2);
        }
    }

    #[test]
    fn damaged_links_are_refused_without_repeating_them() {
        let cases = [
            ("https://x.example/s/abc", LinkError::Secret),
            ("https://x.example/s/abc#", LinkError::Secret),
            ("https://x.example/s/abc#Zq9 Zq9", LinkError::Secret),
            ("https://x.example/s/abc#a%20b", LinkError::Secret),
            ("ftp://x.example/s/abc#Zq9Zq9", LinkError::Shape),
            ("https://x.example/r/abc#Zq9Zq9", LinkError::Shape),
            ("https://x.example/s/#Zq9Zq9", LinkError::Shape),
            ("https://x.example/s/a/b#Zq9Zq9", LinkError::Shape),
            ("https:///s/abc#Zq9Zq9", LinkError::Shape),
            ("alice/report.pdf", LinkError::Secret),
        ];
        for (text, expected) in cases {
            let refused = ShareLink::parse(text).unwrap_err();
            assert_eq!(refused, expected, "{text}");
            assert!(!refused.to_string().contains("Zq9"), "{text}");
        }
        let link = ShareLink::parse(&format!("https://x.example/s/abc#{SECRET}")).unwrap();
        assert!(!format!("{link:?}").contains(SECRET));
    }
}
