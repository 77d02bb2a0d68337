//! The content-encryption algorithm suites sealdrop reads and writes.
//!
//! Values are those of the S3EC specification (`s3-encryption/`), and of the
//! official clients where the specification is silent.

/// Length of every data key and content key (AES-256).
pub const KEY_LEN: usize = 32;
/// Length of the AES-GCM IV (nonce).
pub const IV_LEN: usize = 12;
/// Length of the AES-GCM authentication tag appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// Length of the V3 message ID (the HKDF salt), `x-amz-i`.
pub const MESSAGE_ID_LEN: usize = 28;
/// Length of the V3 key commitment, `x-amz-d`.
pub const COMMITMENT_LEN: usize = 28;

/// The largest plaintext one AES-GCM invocation may encrypt: 2³² − 2 blocks
/// (NIST SP 800-38D §5.2.1.1), i.e. just under 64 GiB.
pub const MAX_PLAINTEXT_LEN: u64 = ((1u64 << 32) - 2) * 16;

/// Algorithm suite id of `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`.
pub const COMMITTING_SUITE_ID: u16 = 0x0073;

/// A content cipher: how the object body is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentCipher {
    /// `ALG_AES_256_GCM_IV12_TAG16_NO_KDF`: format V2, `x-amz-cek-alg: AES/GCM/NoPadding`.
    /// The data key is the content key; the IV is random and stored; no AAD.
    AesGcm,
    /// `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY` (suite 115): format V3.
    /// The content key is derived with HKDF-SHA512 from the data key and the message
    /// ID, together with a key commitment; the IV is fixed (twelve `0x01` bytes) and
    /// the AAD is the suite id as two big-endian bytes.
    CommittingAesGcm,
}

impl ContentCipher {
    /// The value stored in metadata (`x-amz-cek-alg` for V2, `x-amz-c` for V3).
    pub fn metadata_value(self) -> &'static str {
        match self {
            ContentCipher::AesGcm => "AES/GCM/NoPadding",
            ContentCipher::CommittingAesGcm => "115",
        }
    }

    /// The value of the reserved `aws:x-amz-cek-alg` KMS encryption-context entry.
    pub fn context_value(self) -> &'static str {
        // The same strings as in metadata, by the specification's choice.
        self.metadata_value()
    }

    /// The AAD used when a raw AES-GCM keyring wraps a data key for this cipher.
    pub(crate) fn raw_wrap_aad(self) -> &'static [u8] {
        self.metadata_value().as_bytes()
    }

    /// The AAD of the content encryption itself.
    pub(crate) fn content_aad(self) -> &'static [u8] {
        match self {
            ContentCipher::AesGcm => &[],
            ContentCipher::CommittingAesGcm => &COMMITTING_SUITE_ID_BYTES,
        }
    }
}

/// The suite id as bytes: the V3 content AAD and the prefix of the HKDF infos.
pub(crate) const COMMITTING_SUITE_ID_BYTES: [u8; 2] = COMMITTING_SUITE_ID.to_be_bytes();

/// The fixed V3 content IV. Safe to fix because every (data key, message ID)
/// pair derives a distinct content key.
pub(crate) const COMMITTING_IV: [u8; IV_LEN] = [0x01; IV_LEN];
