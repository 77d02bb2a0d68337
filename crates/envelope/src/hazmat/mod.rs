//! Raw AES-256-GCM, and the GCM algebra that lets another AES-GCM implementation
//! (the browser's WebCrypto) produce an object's content in independent segments.
//!
//! Behind the `hazmat` cargo feature. Nothing here derives keys and IVs as the
//! format requires or stops a (key, IV) pair from being used twice: for objects,
//! use [`crate::Encryptor::v3`] and [`crate::ContentMetadata::unverified_decryptor`].
//!
//! # Raw parameters
//!
//! [`v3_encryption_parts`] / [`decryption_parts`] hand out an object's content
//! key, IV and AAD; [`encryptor`] / [`unverified_decryptor`] run the streaming
//! cipher with caller-chosen ones (published test vectors, benchmarks), and
//! [`v2_encryptor`] writes format V2, which sealdrop only reads (test fixtures).
//!
//! # GCM in segments
//!
//! WebCrypto has no streaming AES-GCM, and RustCrypto's `aes-gcm` runs at a sixth
//! of WebCrypto's speed in wasm. The web app computes *exactly* the GCM
//! ciphertext and tag of one message (the S3EC object content) from WebCrypto
//! primitives, one segment at a time, so objects of any size stream with bounded
//! memory and segments can be processed by several Web Workers at once. The web
//! crate makes the WebCrypto calls; the algebra is here, next to the reference
//! GCM it must agree with, and is tested natively against `aes-gcm`
//! (`tests/segments.rs`).
//!
//! Notation (NIST SP 800-38D, 96-bit IV): `H = E_K(0¹²⁸)`, `J0 = IV ‖ be32(1)`,
//! GHASH input `A ‖ pad ‖ C ‖ pad ‖ L`, `L = be64(8·|A|) ‖ be64(8·|C|)`,
//! `tag = GHASH_H(…) ⊕ E_K(J0)`; `m` is the number of content blocks.
//!
//! - **Ciphertext** ([`counter_block`]): GCM encrypts with CTR32 starting at
//!   `inc32(J0)`, so the keystream for the 16-byte block at index `b` of the
//!   content is `E_K(IV ‖ be32(2 + b))`. AES-CTR with that counter block,
//!   incrementing the low 32 bits (WebCrypto's `length: 32`, wrapping like
//!   `inc32`), produces the GCM ciphertext of a segment starting at any
//!   16-byte-aligned offset.
//! - **GHASH of a segment** ([`TagBuilder::add`]): AES-GCM with the same key and
//!   IV, an empty plaintext and the segment's ciphertext `S` as additional data
//!   returns `T' = (Y_S ⊕ L_S)·H ⊕ E_K(J0)`, where `Y_S` is the GHASH Horner value
//!   over `S`'s (zero-padded) blocks and `L_S = be64(8·|S|) ‖ be64(0)`.
//! - **Combining** ([`TagBuilder`]): for a segment ending at block `e`, its share
//!   of the final GHASH value is `Y_S·H^(m+1−e) = (T' ⊕ E_K(J0) ⊕ L_S·H)·H^(m−e)`;
//!   the AAD contributes `GHASH_H(A)·H^(m+1)` and the length block `L·H`. Shares
//!   are added (XOR), so segments may finish in any order.
//! - **One call per part** ([`GhashKey::part_iv`], [`TagBuilder::add_part_tag`]):
//!   GCM with a 16-byte IV `X` uses `J0 = GHASH_H(X ‖ be64(0) ‖ be64(128)) =
//!   X·H² ⊕ L₁₂₈·H`. For the part starting at content block `b`, the crafted
//!   `IV_b = (J0_b ⊕ L₁₂₈·H)·H⁻²` with `J0_b = IV ‖ be32(1 + b)` therefore makes
//!   one AES-GCM encryption of the part's plaintext (no AAD) yield exactly the
//!   object's ciphertext for that part and the tag
//!   `T_b = (Y_S ⊕ be64(0) ‖ be64(8·|S|))·H ⊕ E_K(J0_b)`, from which the share
//!   follows as above. `E_K(J0_b)` is the tag of an empty encryption under `IV_b`.
//!   `H⁻¹ = H^(2¹²⁸−2)`.
//!
//! Products use RustCrypto's constant-time GHASH ([`field`]); only public
//! lengths and offsets steer the computation (exponents, the counter in `J0_b`),
//! and the one inversion is a fixed sequence of products.
//!
//! Why reusing (key, IV) for the GHASH calls is safe: nonce reuse in GCM hurts
//! when two *outputs* under the same nonce are revealed. The `T'` (and `T_b`,
//! `E_K(J0_b)`, `IV_b`) values never leave the page — they are integrity secrets
//! like `H` itself (two of them reveal `H`) and are only combined into the one
//! tag that GCM itself would have produced. The keystream is used exactly once
//! per content block, as in GCM, and a crafted IV's keystream is the object's
//! own keystream for that part.

pub mod field;
mod keys;
mod tag;

use zeroize::Zeroizing;

use crate::error::DecryptError;
use crate::gcm::{Encryptor, UnverifiedDecryptor};
use crate::keys::{ContentKey, DataKey, Iv, MessageId};
use crate::metadata::ContentMetadata;
use crate::suite::{COMMITTING_IV, ContentCipher, IV_LEN, KEY_LEN};

pub use field::Block;
pub use keys::{GhashKey, counter_block, part_j0};
pub use tag::{TagBuilder, TagError};

/// Bytes in an AES block; every segment but a message's last is a multiple of it.
pub const BLOCK_LEN: u64 = 16;

/// The raw AES-256-GCM parameters of one object's content, for a GCM
/// implementation other than this crate's (the browser's WebCrypto path).
pub struct ContentKeyParts {
    /// The content key (derived for V3, the data key for V2).
    pub key: Zeroizing<[u8; KEY_LEN]>,
    /// The IV.
    pub iv: [u8; IV_LEN],
    /// The additional authenticated data.
    pub aad: &'static [u8],
}

/// The parameters for writing a V3 object with this data key and message ID.
///
/// Same contract as [`Encryptor::v3`]: the message ID is consumed, and must
/// never have been used with this data key before; the caller's GCM must
/// encrypt exactly one plaintext with these parameters.
pub fn v3_encryption_parts(data_key: &DataKey, message_id: MessageId) -> ContentKeyParts {
    let key = crate::kdf::derive_for_encryption(data_key, &message_id);
    ContentKeyParts {
        key: Zeroizing::new(key.0),
        iv: COMMITTING_IV,
        aad: ContentCipher::CommittingAesGcm.content_aad(),
    }
}

/// The parameters for reading the object `metadata` describes, after the V3
/// key commitment has been checked in constant time.
pub fn decryption_parts(
    metadata: &ContentMetadata,
    data_key: &DataKey,
) -> Result<ContentKeyParts, DecryptError> {
    let (key, iv) = metadata.content_key(data_key)?;
    Ok(ContentKeyParts {
        key: Zeroizing::new(key.0),
        iv,
        aad: metadata.cipher().content_aad(),
    })
}

/// An encryptor for one message under `key` and `iv`: the pair must never
/// encrypt anything else. The caller appends [`Encryptor::finish`]'s tag.
pub fn encryptor(key: &[u8; KEY_LEN], iv: &[u8; IV_LEN], aad: &[u8]) -> Encryptor {
    Encryptor::new(ContentKey(*key), iv, aad)
}

/// A delayed-authentication decryptor for one message: everything it decrypts
/// is unauthenticated until [`UnverifiedDecryptor::finish`] accepts the tag.
pub fn unverified_decryptor(
    key: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    aad: &[u8],
) -> UnverifiedDecryptor {
    UnverifiedDecryptor::new(ContentKey(*key), iv, aad)
}

/// A V2 (`AES/GCM/NoPadding`) encryptor: the data key itself encrypts, with the
/// IV stored in `x-amz-iv`. sealdrop writes only V3; this makes V2 objects for
/// tests. The IV is consumed and must never have been used with this data key.
pub fn v2_encryptor(data_key: &DataKey, iv: Iv) -> Encryptor {
    Encryptor::new(
        ContentKey(*data_key.expose_secret()),
        iv.as_bytes(),
        ContentCipher::AesGcm.content_aad(),
    )
}
