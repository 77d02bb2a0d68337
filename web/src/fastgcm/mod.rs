//! AES-256-GCM at WebCrypto speed, in independent segments.
//!
//! WebCrypto has no streaming AES-GCM, and RustCrypto's `aes-gcm` runs at a sixth
//! of WebCrypto's speed in wasm. This module computes *exactly* the GCM ciphertext
//! and tag of one message (the S3EC object content) from WebCrypto primitives, one
//! segment at a time, so objects of any size stream with bounded memory and
//! segments can be processed by several Web Workers at once.
//!
//! Notation (NIST SP 800-38D, 96-bit IV): `H = E_K(0¹²⁸)`, `J0 = IV ‖ be32(1)`,
//! GHASH input `A ‖ pad ‖ C ‖ pad ‖ L`, `L = be64(8·|A|) ‖ be64(8·|C|)`,
//! `tag = GHASH_H(…) ⊕ E_K(J0)`.
//!
//! - **Ciphertext** ([`webcrypto::aes_ctr`]): GCM encrypts with CTR32 starting at
//!   `inc32(J0)`, so the keystream for the 16-byte block at index `b` of the
//!   content is `E_K(IV ‖ be32(2 + b))`. WebCrypto AES-CTR with that counter block
//!   and `length: 32` (the low 32 bits count, wrapping like `inc32`) produces the
//!   GCM ciphertext of a segment starting at any 16-byte-aligned offset.
//! - **GHASH of a segment** ([`webcrypto::ghash_segment`]): WebCrypto AES-GCM with
//!   the same key and IV, an empty plaintext and the segment `S` as additional data
//!   returns `T' = (Y_S ⊕ L_S)·H ⊕ E_K(J0)`, where `Y_S` is the GHASH Horner value
//!   over `S`'s (zero-padded) blocks and `L_S = be64(8·|S|) ‖ be64(0)`.
//! - **Combining** ([`tag::TagBuilder`]): with `m` = number of content blocks and
//!   a segment ending at block `e`, its share of the final GHASH value is
//!   `Y_S·H^(m+1−e) = (T' ⊕ E_K(J0) ⊕ L_S·H)·H^(m−e)`; the AAD contributes
//!   `GHASH_H(A)·H^(m+1)` and the length block `L·H`. Shares are added (XOR), so
//!   segments may finish in any order. Products use RustCrypto's constant-time
//!   GHASH ([`field`]); only the exponents (public lengths) steer the computation.
//!
//! Why reusing (key, IV) for the GHASH calls is safe: nonce reuse in GCM hurts when
//! two *outputs* under the same nonce are revealed. The `T'` values never leave the
//! page — they are integrity secrets like `H` itself (two of them reveal `H`) and
//! are only combined into the one tag that GCM itself would have produced. The
//! keystream is used exactly once per content block, as in GCM.
//!
//! RustCrypto's streaming implementation in `sealdrop-envelope` stays the reference:
//! `tests/fastgcm.rs` checks ciphertext and tags against it for random sizes and
//! segmentations in headless Chromium.

pub mod field;
pub mod keys;
pub mod tag;
pub mod webcrypto;

pub use keys::{ContentKeys, GhashKey, SegmentKeys};
pub use tag::{TagBuilder, TagError};

/// Bytes in an AES block; every segment but an object's last is a multiple of it.
pub const BLOCK_LEN: u64 = 16;
