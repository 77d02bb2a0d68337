//! Streaming AES-256-GCM, built from RustCrypto's AES-CTR and GHASH exactly as
//! NIST SP 800-38D §7 (and RustCrypto's one-shot `aes-gcm`) compose them:
//!
//! - `H = E_K(0¹²⁸)`, `J0 = IV ‖ 0³¹ ‖ 1` (96-bit IVs only);
//! - ciphertext = plaintext ⊕ CTR32 keystream starting at `inc32(J0)`;
//! - tag = `GHASH_H(A ‖ pad ‖ C ‖ pad ‖ len64(A) ‖ len64(C)) ⊕ E_K(J0)`.
//!
//! The only state kept between pieces is the CTR position, the GHASH accumulator
//! and at most 15 bytes of ciphertext not yet forming a full GHASH block, so
//! memory does not depend on the object size and any piece size works. The output
//! is byte-identical to one-shot `aes-gcm` (tested against it).

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use ghash::universal_hash::array::Array;
use zeroize::Zeroize;

use crate::error::{DecryptError, LengthError};
use crate::kdf;
use crate::keys::{ContentKey, DataKey, MessageId, Tag};
use crate::suite::{COMMITTING_IV, ContentCipher, IV_LEN, MAX_PLAINTEXT_LEN, TAG_LEN};

type Ctr32 = ctr::Ctr32BE<Aes256>;
type Block = ghash::Block;

/// The shared state of an encryption or decryption in progress.
struct GcmState {
    ctr: Ctr32,
    ghash: GHash,
    /// `E_K(J0)`, XORed into the final GHASH value to form the tag.
    tag_mask: Block,
    /// Ciphertext bytes not yet absorbed because they do not fill a block.
    partial: Block,
    partial_len: usize,
    aad_len: u64,
    text_len: u64,
}

impl GcmState {
    fn new(key: ContentKey, iv: &[u8; IV_LEN], aad: &[u8]) -> Self {
        let cipher = Aes256::new(&key.0.into());
        let mut h = Block::default();
        cipher.encrypt_block(&mut h);
        let mut ghash = GHash::new(&h);
        h.zeroize();
        ghash.update_padded(aad);

        let mut j0 = [0u8; 16];
        j0[..IV_LEN].copy_from_slice(iv);
        j0[15] = 1;
        let mut ctr = Ctr32::new(&key.0.into(), &j0.into());
        // The first keystream block is E_K(J0), the tag mask; the counter is then
        // at inc32(J0), where the content keystream starts.
        let mut tag_mask = Block::default();
        ctr.apply_keystream(&mut tag_mask);
        GcmState {
            ctr,
            ghash,
            tag_mask,
            partial: Block::default(),
            partial_len: 0,
            aad_len: aad.len() as u64,
            text_len: 0,
        }
    }

    fn reserve(&mut self, len: usize) -> Result<(), LengthError> {
        let total = self.text_len.saturating_add(len as u64);
        if total > MAX_PLAINTEXT_LEN {
            return Err(LengthError::TooLong {
                limit: MAX_PLAINTEXT_LEN,
            });
        }
        self.text_len = total;
        Ok(())
    }

    fn apply_keystream(&mut self, buf: &mut [u8]) -> Result<(), LengthError> {
        // `reserve` already bounds the length below the counter space; this cannot
        // fail, but a failure must never turn into a panic.
        self.ctr
            .try_apply_keystream(buf)
            .map_err(|_| LengthError::TooLong {
                limit: MAX_PLAINTEXT_LEN,
            })
    }

    /// Feeds ciphertext into GHASH, carrying an incomplete trailing block over.
    fn absorb(&mut self, mut ciphertext: &[u8]) {
        if self.partial_len > 0 {
            let take = (16 - self.partial_len).min(ciphertext.len());
            self.partial[self.partial_len..self.partial_len + take]
                .copy_from_slice(&ciphertext[..take]);
            self.partial_len += take;
            ciphertext = &ciphertext[take..];
            if self.partial_len < 16 {
                return;
            }
            self.ghash.update(core::slice::from_ref(&self.partial));
            self.partial_len = 0;
        }
        let (blocks, tail) = Array::slice_as_chunks(ciphertext);
        self.ghash.update(blocks);
        self.partial[..tail.len()].copy_from_slice(tail);
        self.partial_len = tail.len();
    }

    fn tag(mut self) -> Tag {
        if self.partial_len > 0 {
            let partial_len = self.partial_len;
            self.ghash.update_padded(&self.partial[..partial_len]);
        }
        let mut lengths = Block::default();
        lengths[..8].copy_from_slice(&(self.aad_len * 8).to_be_bytes());
        lengths[8..].copy_from_slice(&(self.text_len * 8).to_be_bytes());
        self.ghash.update(&[lengths]);
        let mut tag = [0u8; TAG_LEN];
        let ghash = self.ghash.clone().finalize();
        for ((out, s), m) in tag.iter_mut().zip(ghash.iter()).zip(self.tag_mask.iter()) {
            *out = s ^ m;
        }
        Tag(tag)
    }
}

impl Drop for GcmState {
    fn drop(&mut self) {
        // The key schedule and GHASH key zeroize themselves (crate features);
        // these buffers hold keystream-derived and ciphertext bytes.
        self.tag_mask.zeroize();
        self.partial.zeroize();
    }
}

/// Encrypts a plaintext stream in pieces of any size, in place.
///
/// Made by [`Encryptor::v3`] for objects (or `hazmat` for raw GCM).
/// Call [`Encryptor::finish`] after the last piece and store its tag right
/// after the ciphertext: without it the object can never be read.
pub struct Encryptor {
    state: GcmState,
}

impl Encryptor {
    /// A V3 (suite 115) encryptor for one object.
    ///
    /// Security contract:
    /// - the pair (data key, message ID) must never encrypt anything else: it
    ///   derives the content key, which V3 uses with a fixed IV, so a second
    ///   plaintext under the same pair reuses the keystream and the GHASH key.
    ///   The message ID is consumed here, and [`MessageId`] is neither `Copy` nor
    ///   `Clone`, so one value can start one encryption; a fresh one comes from
    ///   [`MessageId::generate`] (the broker does this for every upload).
    /// - the caller must call [`Encryptor::finish`] and append its tag.
    /// - nothing is released before authentication: encryption has no
    ///   unverified output.
    pub fn v3(data_key: &DataKey, message_id: MessageId) -> Encryptor {
        Encryptor::new(
            kdf::derive_for_encryption(data_key, &message_id),
            &COMMITTING_IV,
            ContentCipher::CommittingAesGcm.content_aad(),
        )
    }

    pub(crate) fn new(key: ContentKey, iv: &[u8; IV_LEN], aad: &[u8]) -> Self {
        Encryptor {
            state: GcmState::new(key, iv, aad),
        }
    }

    /// Encrypts the next piece of plaintext in place.
    pub fn encrypt_in_place(&mut self, buf: &mut [u8]) -> Result<(), LengthError> {
        self.state.reserve(buf.len())?;
        self.state.apply_keystream(buf)?;
        self.state.absorb(buf);
        Ok(())
    }

    /// Pretends all but `left` bytes of GCM's length limit were encrypted, so
    /// tests reach the limit without encrypting 64 GiB.
    #[cfg(test)]
    pub(crate) fn exhaust_all_but(&mut self, left: u64) {
        self.state.text_len = MAX_PLAINTEXT_LEN - left;
    }

    /// Ends the stream; the tag must be appended after the last ciphertext byte.
    #[must_use = "the tag must be stored after the ciphertext"]
    pub fn finish(self) -> Tag {
        self.state.tag()
    }
}

/// Decrypts a ciphertext stream in pieces of any size, in place, with **delayed
/// authentication**: the plaintext it produces is unverified until
/// [`UnverifiedDecryptor::finish`] accepts the tag. Callers must not act on it
/// (show, parse, publish) before, and must discard all of it if `finish` fails
/// or is never called. [`crate::open`] is the one-shot authenticated path;
/// [`crate::UnverifiedDecryptingWriter`] stages the plaintext in a writer that
/// is handed back only once it authenticates.
pub struct UnverifiedDecryptor {
    state: GcmState,
}

impl UnverifiedDecryptor {
    pub(crate) fn new(key: ContentKey, iv: &[u8; IV_LEN], aad: &[u8]) -> Self {
        UnverifiedDecryptor {
            state: GcmState::new(key, iv, aad),
        }
    }

    /// Decrypts the next piece of ciphertext (tag excluded) in place. The
    /// plaintext is unverified.
    pub fn decrypt_in_place(&mut self, buf: &mut [u8]) -> Result<(), LengthError> {
        self.state.reserve(buf.len())?;
        self.state.absorb(buf);
        self.state.apply_keystream(buf)
    }

    /// Authenticates everything decrypted so far against the object's tag.
    pub fn finish(self, tag: &Tag) -> Result<(), DecryptError> {
        if self.state.tag().ct_eq(tag) {
            Ok(())
        } else {
            Err(DecryptError::Authentication)
        }
    }
}

/// An [`UnverifiedDecryptor`] for a whole stored object (ciphertext followed by
/// the tag) that arrives in pieces of any size: it holds back the last 16 bytes
/// seen, since they may be the tag. Same delayed-authentication contract as
/// [`UnverifiedDecryptor`]: everything [`UnverifiedObjectDecryptor::update`]
/// appends is unverified until [`UnverifiedObjectDecryptor::finish`] succeeds.
pub struct UnverifiedObjectDecryptor {
    inner: UnverifiedDecryptor,
    held: [u8; TAG_LEN],
    held_len: usize,
}

impl UnverifiedObjectDecryptor {
    pub(crate) fn new(inner: UnverifiedDecryptor) -> Self {
        UnverifiedObjectDecryptor {
            inner,
            held: [0; TAG_LEN],
            held_len: 0,
        }
    }

    /// Decrypts the next piece of the stored object, appending to `plaintext` every
    /// byte that is certainly not part of the tag. Unverified until `finish`.
    pub fn update(&mut self, piece: &[u8], plaintext: &mut Vec<u8>) -> Result<(), LengthError> {
        let available = self.held_len + piece.len();
        if available <= TAG_LEN {
            self.held[self.held_len..available].copy_from_slice(piece);
            self.held_len = available;
            return Ok(());
        }
        let release = available - TAG_LEN;
        let start = plaintext.len();
        let from_held = release.min(self.held_len);
        plaintext.extend_from_slice(&self.held[..from_held]);
        let from_piece = release - from_held;
        plaintext.extend_from_slice(&piece[..from_piece]);

        let mut next = [0u8; TAG_LEN];
        let still_held = self.held_len - from_held;
        next[..still_held].copy_from_slice(&self.held[from_held..self.held_len]);
        next[still_held..].copy_from_slice(&piece[from_piece..]);
        self.held = next;
        self.held_len = TAG_LEN;

        self.inner.decrypt_in_place(&mut plaintext[start..])
    }

    /// Authenticates the object: the held-back 16 bytes are its tag.
    pub fn finish(self) -> Result<(), DecryptError> {
        if self.held_len < TAG_LEN {
            return Err(DecryptError::Truncated);
        }
        let tag = Tag(self.held);
        self.inner.finish(&tag)
    }
}
