//! How an object's encryption is labelled.

use sealdrop_api::ObjectMode;

use super::dom::El;

/// Short label, CSS class, and a sentence explaining it.
pub fn describe(mode: ObjectMode) -> (&'static str, &'static str, &'static str) {
    match mode {
        ObjectMode::CseV3 => (
            "Client-side · V3",
            "badge badge-cse",
            "Encrypted in the browser (S3 Encryption Client format V3, key-committing); storage holds only ciphertext.",
        ),
        ObjectMode::CseV2 => (
            "Client-side · V2",
            "badge badge-cse",
            "Encrypted on the client (S3 Encryption Client format V2, AES-GCM); storage holds only ciphertext.",
        ),
        ObjectMode::SseKms => (
            "SSE-KMS",
            "badge badge-sse",
            "Encrypted at rest by storage with a KMS key; it travels as plaintext over TLS.",
        ),
        ObjectMode::None => (
            "Not encrypted",
            "badge badge-none",
            "Stored without KMS encryption.",
        ),
        ObjectMode::Invalid => (
            "Invalid metadata",
            "badge badge-invalid",
            "Claims client-side encryption, but its metadata is invalid or unsupported; it cannot be decrypted.",
        ),
    }
}

/// The badge element.
pub fn badge(mode: ObjectMode) -> El {
    let (label, class, description) = describe(mode);
    El::new("span")
        .class(class)
        .attr("title", description)
        .text(label)
}
