//! The details dialog of one object: what the broker knows about its
//! encryption, and what storage said when it was last downloaded.

use sealdrop_api::{Encryption, KeyWrapping, ObjectInfo};
use web_sys::{Element, HtmlDialogElement};

use super::badge;
use super::dom::{self, El};
use super::format;
use crate::download::Delivered;

/// The dialog (one, reused).
pub struct Details {
    /// The `<dialog>`.
    pub dialog: HtmlDialogElement,
    title: Element,
    facts: Element,
}

impl Details {
    /// Builds the dialog (closed).
    pub fn new() -> Details {
        let title = El::new("h2").attr("id", "details-title").build();
        let facts = El::new("dl").class("facts").build();
        let close = El::new("form")
            .attr("method", "dialog")
            .class("dialog-actions")
            .child(
                El::new("button")
                    .class("button primary")
                    .testid("close-details")
                    .text("Close"),
            );
        let dialog: HtmlDialogElement = El::new("dialog")
            .class("dialog")
            .attr("aria-labelledby", "details-title")
            .testid("details-dialog")
            .child(&title)
            .child(&facts)
            .child(close)
            .cast();
        Details {
            dialog,
            title,
            facts,
        }
    }

    /// Fills in `object` and opens the dialog.
    pub fn show(&self, object: &ObjectInfo, delivered: Option<&Delivered>) {
        dom::set_text(&self.title, &object.name);
        dom::clear(&self.facts);
        let encryption = &object.encryption;
        let (_, _, explanation) = badge::describe(encryption.mode());
        self.fact("Object key", code(&object.key), None);
        let size = if object.size == object.stored_size {
            format!("{} ({} bytes)", format::bytes(object.size), object.size)
        } else {
            format!(
                "{} ({} bytes; {} stored with the authentication tag)",
                format::bytes(object.size),
                object.size,
                object.stored_size
            )
        };
        self.fact("Size", El::new("span").text(&size), None);
        self.fact(
            "Modified",
            El::new("span").text(&format::date(&object.last_modified)),
            None,
        );
        if let Some(content_type) = &object.content_type {
            self.fact("Content type", code(content_type), None);
        }
        if let Some(etag) = &object.etag {
            self.fact("ETag", code(etag), None);
        }
        self.fact(
            "Encryption",
            El::new("span")
                .child(badge::badge(encryption.mode()))
                .child(El::new("span").class("fact-note").text(explanation)),
            Some("encryption-mode"),
        );
        if let Some(key_id) = encryption.kms_key_id() {
            self.fact("KMS key", code(key_id), Some("kms-key-id"));
        }
        if let Some(envelope) = encryption.client_side() {
            let (wrapping, label) = match envelope.key_wrapping {
                KeyWrapping::KmsContext => ("kms+context", "Encryption context"),
                KeyWrapping::AesGcm => ("AES/GCM", "Material description"),
            };
            self.fact("Data key wrapping", code(wrapping), None);
            self.fact(
                label,
                context_table(&envelope.encryption_context),
                Some("encryption-context"),
            );
        }
        if let Some(sse) = encryption.server_side_encryption() {
            self.fact(
                "Server-side encryption",
                code(&format!("x-amz-server-side-encryption: {sse}")),
                Some("sse-header"),
            );
        }
        if let Some(delivered) = delivered {
            let text = match (&delivered.server_side_encryption, &delivered.sse_kms_key_id) {
                (Some(sse), Some(key)) => format!(
                    "x-amz-server-side-encryption: {sse}\nx-amz-server-side-encryption-aws-kms-key-id: {key}"
                ),
                (Some(sse), None) => format!("x-amz-server-side-encryption: {sse}"),
                _ => "no x-amz-server-side-encryption header".to_owned(),
            };
            self.fact(
                "Storage returned on last download",
                code(&text),
                Some("download-sse-header"),
            );
        }
        if let Encryption::Invalid { problem } = encryption {
            self.fact(
                "Problem",
                El::new("span").class("fact-problem").text(problem),
                Some("problem"),
            );
        }
        if !self.dialog.open() {
            let _ = self.dialog.show_modal();
        }
    }

    fn fact(&self, term: &str, value: El, testid: Option<&str>) {
        let mut description = El::new("dd").child(value);
        if let Some(testid) = testid {
            description = description.testid(testid);
        }
        let _ = self.facts.append_child(El::new("dt").text(term).as_ref());
        let _ = self.facts.append_child(description.as_ref());
    }
}

fn code(text: &str) -> El {
    El::new("code").class("wrap").text(text)
}

fn context_table(context: &std::collections::BTreeMap<String, String>) -> El {
    if context.is_empty() {
        return El::new("span").text("(empty)");
    }
    let mut body = El::new("tbody");
    for (key, value) in context {
        body = body.child(
            El::new("tr")
                .child(El::new("th").attr("scope", "row").child(code(key)))
                .child(El::new("td").child(code(value))),
        );
    }
    El::new("table")
        .class("context")
        .child(
            El::new("thead").child(
                El::new("tr")
                    .child(El::new("th").attr("scope", "col").text("Key"))
                    .child(El::new("th").attr("scope", "col").text("Value")),
            ),
        )
        .child(body)
}

impl Default for Details {
    fn default() -> Self {
        Self::new()
    }
}
