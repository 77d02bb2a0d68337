//! AES-256-GCM at WebCrypto speed, in independent segments: the WebCrypto side.
//!
//! WebCrypto has no streaming AES-GCM, and RustCrypto's `aes-gcm` runs at a sixth
//! of WebCrypto's speed in wasm. The web app computes *exactly* the GCM ciphertext
//! and tag of one message (the S3EC object content) one segment at a time, so
//! objects of any size stream with bounded memory and segments can be processed
//! by several Web Workers at once.
//!
//! The algebra — why AES-CTR from a counter block gives the GCM ciphertext of a
//! segment, how per-segment `T'` values combine into the one tag, and why
//! reusing (key, IV) for the GHASH calls is safe — lives in
//! `sealdrop_envelope::hazmat`, next to the reference GCM it must agree with and
//! property-tested natively against `aes-gcm`. This module only makes the
//! WebCrypto calls ([`webcrypto`]) and holds the imported keys ([`keys`]);
//! `tests/fastgcm.rs` checks the result against the envelope's streaming
//! encryptor in headless browsers.

pub mod keys;
pub mod webcrypto;

pub use keys::{ContentKeys, SegmentKeys};
pub use sealdrop_envelope::hazmat::{BLOCK_LEN, Block, GhashKey, TagBuilder, TagError};
