//! The links sealdrop hands out: share links `<broker>/s/<id>#<secret>` and
//! file request links `<broker>/r/<id>#<secret>`.
//!
//! The secret rides in the fragment, which a browser never sends to the
//! server that serves the page; clients send id and secret to the broker in a
//! JSON body ([`ShareLink::credentials`]) or, for uploads through a file
//! request, in the `Authorization` header ([`RequestLink::bearer`]) — never in
//! a URL, so neither shows up in an access log or a `Referer`. This module is
//! the one place the links' shape is written and read.

use sealdrop_api::{LinkCredentials, OpenShareRequest, SecretString, request_bearer, routes};
use zeroize::Zeroizing;

/// A link taken apart: the broker's base URL, the id, the secret.
#[derive(Clone, PartialEq, Eq)]
struct Parts {
    base: String,
    id: String,
    secret: SecretString,
}

/// Why text is not a link. Never repeats the text: it holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not an http(s) URL with `/s/<id>` (or `/r/<id>`).
    #[error("not a sealdrop {0} link: expected https://<server>{1}<id>#<secret>")]
    Shape(&'static str, &'static str),
    /// The `#<secret>` part is missing or mangled.
    #[error("the link is incomplete: the part after # is missing or damaged — copy the whole link")]
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

impl Parts {
    fn new(base: &str, id: &str, secret: &SecretString) -> Parts {
        Parts {
            base: base.trim_end_matches('/').to_owned(),
            id: id.to_owned(),
            secret: secret.clone(),
        }
    }

    /// Reads a link to page `page` (`/s/`, `/r/`) as it was pasted.
    fn parse(text: &str, what: &'static str, page: &'static str) -> Result<Parts, LinkError> {
        let shape = LinkError::Shape(what, page);
        let text = text.trim();
        let (url, secret) = text.split_once('#').unwrap_or((text, ""));
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(shape);
        }
        let (base, id) = url
            .trim_end_matches('/')
            .rsplit_once(page)
            .ok_or_else(|| shape.clone())?;
        if !is_token(id, 64) || base.ends_with(':') || base.ends_with('/') {
            return Err(shape);
        }
        if !is_token(secret, 128) {
            return Err(LinkError::Secret);
        }
        Ok(Parts {
            base: base.to_owned(),
            id: id.to_owned(),
            secret: SecretString::new(secret.to_owned()),
        })
    }

    fn to_url(&self, page: &str) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}{page}{}#{}",
            self.base,
            self.id,
            self.secret.expose()
        ))
    }

    fn credentials(&self) -> LinkCredentials {
        LinkCredentials {
            id: self.id.clone(),
            secret: self.secret.clone(),
        }
    }
}

/// Both links' accessors and `Debug` (which never shows the secret).
macro_rules! link_type {
    ($name:ident, $what:literal, $page:expr) => {
        impl $name {
            /// The link to `id` with `secret` on the broker at `base` (its
            /// public URL, e.g. `https://files.example.com`).
            pub fn new(base: &str, id: &str, secret: &SecretString) -> $name {
                $name(Parts::new(base, id, secret))
            }

            /// Reads a link as it was pasted (surrounding blanks ignored).
            pub fn parse(text: &str) -> Result<$name, LinkError> {
                Parts::parse(text, $what, $page).map($name)
            }

            /// The broker's base URL (what API routes are appended to).
            pub fn base(&self) -> &str {
                &self.0.base
            }

            /// The public id.
            pub fn id(&self) -> &str {
                &self.0.id
            }

            /// The whole link, to show or copy. It holds the secret.
            pub fn to_url(&self) -> Zeroizing<String> {
                self.0.to_url($page)
            }

            /// The body of the public call that describes the link.
            pub fn credentials(&self) -> LinkCredentials {
                self.0.credentials()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("base", &self.0.base)
                    .finish_non_exhaustive()
            }
        }
    };
}

/// A share link: `<broker>/s/<id>#<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareLink(Parts);
link_type!(ShareLink, "share", routes::SHARE_PAGE);

impl ShareLink {
    /// The body of `POST /public/share/open` for file `index`.
    pub fn open_request(&self, index: u32) -> OpenShareRequest {
        OpenShareRequest {
            id: self.0.id.clone(),
            secret: self.0.secret.clone(),
            file: index,
        }
    }
}

/// A file request link: `<broker>/r/<id>#<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestLink(Parts);
link_type!(RequestLink, "file request", routes::REQUEST_PAGE);

impl RequestLink {
    /// The bearer credential that uploads through this request (the upload
    /// routes take it in `Authorization`, never in a URL).
    pub fn bearer(&self) -> Zeroizing<String> {
        Zeroizing::new(request_bearer(&self.0.id, self.0.secret.expose()))
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
        const SHAPE: LinkError = LinkError::Shape("share", "/s/");
        let cases = [
            ("https://x.example/s/abc", LinkError::Secret),
            ("https://x.example/r/abc#Zq9Zq9", SHAPE),
            ("https://x.example/s/abc#", LinkError::Secret),
            ("https://x.example/s/abc#Zq9 Zq9", LinkError::Secret),
            ("https://x.example/s/abc#a%20b", LinkError::Secret),
            ("ftp://x.example/s/abc#Zq9Zq9", SHAPE),
            ("https://x.example/s/#Zq9Zq9", SHAPE),
            ("https://x.example/s/a/b#Zq9Zq9", SHAPE),
            ("https:///s/abc#Zq9Zq9", SHAPE),
            ("alice/report.pdf", SHAPE),
        ];
        for (text, expected) in cases {
            let refused = ShareLink::parse(text).unwrap_err();
            assert_eq!(refused, expected, "{text}");
            assert!(!refused.to_string().contains("Zq9"), "{text}");
        }
        let link = ShareLink::parse(&format!("https://x.example/s/abc#{SECRET}")).unwrap();
        assert!(!format!("{link:?}").contains(SECRET));
    }

    #[test]
    fn a_file_request_link_carries_its_upload_credential() {
        let url = format!("https://x.example/r/Req_1#{SECRET}");
        let link = RequestLink::parse(&url).unwrap();
        assert_eq!(*link.to_url(), url);
        assert_eq!(*link.bearer(), format!("sdr_Req_1.{SECRET}"));
        assert_eq!(link.credentials().id, "Req_1");
        assert!(ShareLink::parse(&url).is_err(), "not a share link");
        assert!(RequestLink::parse(&format!("https://x.example/s/abc#{SECRET}")).is_err());
        assert!(!format!("{link:?}").contains(SECRET));
    }
}
