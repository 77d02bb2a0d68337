//! Test support shared by the native and the in-browser (wasm) test runs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sealdrop_envelope::{
    ContentCipher, ContentMetadata, ContentParams, DataKey, EncryptionContext, Encryptor, Iv,
    KeyWrapping, MessageId, MetadataMap, commitment, hazmat, open, seal,
};

/// A small deterministic PRNG (xorshift64*), so wasm and native runs see the same
/// sizes and chunkings without pulling a RNG crate into the browser.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// A random data key (the next 32 bytes).
    pub fn data_key(&mut self) -> DataKey {
        DataKey::from_slice(&self.bytes(32)).unwrap()
    }

    /// A random message ID (the next 28 bytes).
    pub fn message_id(&mut self) -> MessageId {
        MessageId::from_slice(&self.bytes(28)).unwrap()
    }
}

/// Strategies shared by the property tests (native only: proptest is not built for wasm).
#[cfg(not(target_arch = "wasm32"))]
pub mod strategies {
    use proptest::prelude::*;

    /// What one AES-256-GCM encryption takes: a key, an IV and up to 40 bytes of AAD.
    pub fn gcm_inputs() -> impl Strategy<Value = ([u8; 32], [u8; 12], Vec<u8>)> {
        (
            any::<[u8; 32]>(),
            any::<[u8; 12]>(),
            prop::collection::vec(any::<u8>(), 0..40),
        )
    }
}

/// The plaintext rule of the interop fixtures: byte i of an n-byte object.
pub fn fixture_plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + n) % 251) as u8).collect()
}

/// Splits `len` bytes into random pieces (including empty ones).
pub fn random_chunks(rng: &mut Rng, len: usize, max_piece: usize) -> Vec<usize> {
    let mut pieces = Vec::new();
    let mut left = len;
    while left > 0 {
        let piece = rng.below(max_piece + 1).min(left);
        pieces.push(piece);
        left -= piece;
    }
    pieces.push(0);
    pieces
}

/// Encrypts in the given pieces with the streaming encryptor.
pub fn encrypt_in_pieces(mut encryptor: Encryptor, plaintext: &[u8], pieces: &[usize]) -> Vec<u8> {
    let mut out = plaintext.to_vec();
    let mut at = 0;
    for &piece in pieces {
        encryptor
            .encrypt_in_place(&mut out[at..at + piece])
            .unwrap();
        at += piece;
    }
    assert_eq!(at, plaintext.len());
    out.extend_from_slice(encryptor.finish().as_bytes());
    out
}

/// Decrypts a stored object fed in the given pieces; `Err` on any failure.
pub fn decrypt_in_pieces(
    metadata: &ContentMetadata,
    data_key: &DataKey,
    object: &[u8],
    pieces: &[usize],
) -> Result<Vec<u8>, sealdrop_envelope::DecryptError> {
    let mut decryptor = metadata.unverified_object_decryptor(data_key)?;
    let mut out = Vec::new();
    let mut at = 0;
    for &piece in pieces {
        let piece = piece.min(object.len() - at);
        decryptor.update(&object[at..at + piece], &mut out)?;
        at += piece;
    }
    decryptor.update(&object[at..], &mut out)?;
    decryptor.finish()?;
    Ok(out)
}

/// A second `MessageId` with the same bytes. Tests encrypt one plaintext twice
/// on purpose, to compare implementations; nothing else ever copies one.
pub fn same_id(message_id: &MessageId) -> MessageId {
    MessageId::from_slice(message_id.as_bytes()).unwrap()
}

/// V3 metadata for a KMS-wrapped object as sealdrop's broker writes it.
pub fn v3_metadata(
    data_key: &DataKey,
    object_key: &str,
    message_id: &MessageId,
) -> ContentMetadata {
    ContentMetadata::v3(
        vec![0xAB; 48],
        KeyWrapping::Kms {
            context: EncryptionContext::for_object(object_key)
                .to_stored(ContentCipher::CommittingAesGcm),
        },
        same_id(message_id),
        commitment(data_key, message_id),
    )
    .unwrap()
}

// ---------------------------------------------------------------- vectors

#[derive(serde::Deserialize)]
struct GcmVectors {
    vectors: Vec<GcmVector>,
}

#[derive(serde::Deserialize)]
struct GcmVector {
    key: String,
    nonce: String,
    plaintext: String,
    aad: String,
    ciphertext: String,
    tag: String,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Runs every NIST CAVP AES-256-GCM vector through the streaming encryptor and
/// decryptor with several chunkings. Returns how many vectors were checked.
pub fn check_nist_gcm_vectors() -> usize {
    let parsed: GcmVectors =
        serde_json::from_str(include_str!("../vectors/nist_gcm_aes256.json")).unwrap();
    let mut rng = Rng::new(7);
    for (i, v) in parsed.vectors.iter().enumerate() {
        let key: [u8; 32] = unhex(&v.key).try_into().unwrap();
        let iv: [u8; 12] = unhex(&v.nonce).try_into().unwrap();
        let aad = unhex(&v.aad);
        let plaintext = unhex(&v.plaintext);
        let mut expected = unhex(&v.ciphertext);
        expected.extend_from_slice(&unhex(&v.tag));

        for pieces in [
            vec![plaintext.len()],
            vec![1; plaintext.len()],
            random_chunks(&mut rng, plaintext.len(), 20),
        ] {
            let got = encrypt_in_pieces(hazmat::encryptor(&key, &iv, &aad), &plaintext, &pieces);
            assert_eq!(hex::encode(&got), hex::encode(&expected), "vector {i}");

            let (ciphertext, tag) = expected.split_at(plaintext.len());
            let mut decryptor = hazmat::unverified_decryptor(&key, &iv, &aad);
            let mut buf = ciphertext.to_vec();
            let mut at = 0;
            for &piece in &pieces {
                decryptor
                    .decrypt_in_place(&mut buf[at..at + piece])
                    .unwrap();
                at += piece;
            }
            decryptor
                .finish(&sealdrop_envelope::Tag::from_slice(tag).unwrap())
                .unwrap();
            assert_eq!(buf, plaintext, "vector {i}");
        }
    }
    parsed.vectors.len()
}

#[derive(serde::Deserialize)]
struct HkdfVectors {
    vectors: Vec<HkdfVector>,
}

#[derive(serde::Deserialize)]
struct HkdfVector {
    #[serde(rename = "tcId")]
    tc_id: u32,
    ikm: String,
    salt: String,
    info: String,
    okm: String,
}

/// Wycheproof HKDF-SHA512 vectors through the exact HKDF type the envelope uses.
pub fn check_hkdf_sha512_vectors() -> usize {
    let parsed: HkdfVectors =
        serde_json::from_str(include_str!("../vectors/wycheproof_hkdf_sha512.json")).unwrap();
    for v in &parsed.vectors {
        let salt = unhex(&v.salt);
        let hk = hkdf::Hkdf::<sha2::Sha512>::new(Some(&salt), &unhex(&v.ikm));
        let mut okm = vec![0u8; v.okm.len() / 2];
        hk.expand(&unhex(&v.info), &mut okm).unwrap();
        assert_eq!(hex::encode(okm), v.okm, "tcId {}", v.tc_id);
    }
    parsed.vectors.len()
}

// ---------------------------------------------------------------- fixtures

/// The interop fixtures written by the official Python S3EC, embedded so the same
/// test runs in the browser.
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "v3-0",
        include_str!("../../../../tests/fixtures/s3ec/v3-0.json"),
    ),
    (
        "v3-1",
        include_str!("../../../../tests/fixtures/s3ec/v3-1.json"),
    ),
    (
        "v3-15",
        include_str!("../../../../tests/fixtures/s3ec/v3-15.json"),
    ),
    (
        "v3-16",
        include_str!("../../../../tests/fixtures/s3ec/v3-16.json"),
    ),
    (
        "v3-17",
        include_str!("../../../../tests/fixtures/s3ec/v3-17.json"),
    ),
    (
        "v3-4095",
        include_str!("../../../../tests/fixtures/s3ec/v3-4095.json"),
    ),
    (
        "v3-65537",
        include_str!("../../../../tests/fixtures/s3ec/v3-65537.json"),
    ),
    (
        "v2-0",
        include_str!("../../../../tests/fixtures/s3ec/v2-0.json"),
    ),
    (
        "v2-1",
        include_str!("../../../../tests/fixtures/s3ec/v2-1.json"),
    ),
    (
        "v2-15",
        include_str!("../../../../tests/fixtures/s3ec/v2-15.json"),
    ),
    (
        "v2-16",
        include_str!("../../../../tests/fixtures/s3ec/v2-16.json"),
    ),
    (
        "v2-17",
        include_str!("../../../../tests/fixtures/s3ec/v2-17.json"),
    ),
    (
        "v2-4095",
        include_str!("../../../../tests/fixtures/s3ec/v2-4095.json"),
    ),
    (
        "v2-65537",
        include_str!("../../../../tests/fixtures/s3ec/v2-65537.json"),
    ),
];

#[derive(serde::Deserialize)]
pub struct Fixture {
    pub format: String,
    pub size: usize,
    pub key: String,
    pub encryption_context: BTreeMap<String, String>,
    pub metadata: MetadataMap,
    pub data_key: String,
    pub plaintext: String,
    pub ciphertext: String,
}

/// Decrypts one official-client fixture, then re-encrypts it with the same data
/// key and message ID / IV and demands byte-identical metadata and ciphertext.
pub fn check_fixture(name: &str, json: &str) {
    let fixture: Fixture = serde_json::from_str(json).unwrap();
    let data_key = DataKey::from_base64(&fixture.data_key).unwrap();
    let plaintext = BASE64.decode(&fixture.plaintext).unwrap();
    let ciphertext = BASE64.decode(&fixture.ciphertext).unwrap();
    assert_eq!(
        plaintext,
        fixture_plaintext(fixture.size),
        "{name}: plaintext rule"
    );

    // Read: parse the stored metadata and decrypt, one-shot and streamed.
    let metadata = ContentMetadata::parse(
        fixture
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let context = metadata.kms_context().expect("KMS-wrapped fixture");
    let mut requested = EncryptionContext::new();
    for (k, v) in &fixture.encryption_context {
        requested.insert(k, v).unwrap();
    }
    assert!(context.matches(&requested), "{name}: context rule");
    assert_eq!(context.object_key(), Some(fixture.key.as_str()));
    assert_eq!(
        *open(&metadata, &data_key, &ciphertext).unwrap(),
        plaintext,
        "{name}"
    );
    let mut rng = Rng::new(fixture.size as u64);
    let pieces = random_chunks(&mut rng, ciphertext.len(), 4096);
    assert_eq!(
        decrypt_in_pieces(&metadata, &data_key, &ciphertext, &pieces).unwrap(),
        plaintext,
        "{name}: streamed"
    );

    // Write: same inputs, identical bytes.
    let (rebuilt, encryptor) = match (fixture.format.as_str(), metadata.params()) {
        ("v3", ContentParams::V3 { message_id, .. }) => (
            ContentMetadata::v3(
                metadata.encrypted_data_key().to_vec(),
                KeyWrapping::Kms {
                    context: requested.to_stored(ContentCipher::CommittingAesGcm),
                },
                same_id(message_id),
                commitment(&data_key, message_id),
            )
            .unwrap(),
            Encryptor::v3(&data_key, same_id(message_id)),
        ),
        ("v2", ContentParams::V2 { iv }) => (
            ContentMetadata::v2(
                metadata.encrypted_data_key().to_vec(),
                KeyWrapping::Kms {
                    context: requested.to_stored(ContentCipher::AesGcm),
                },
                Iv::from_slice(iv.as_bytes()).unwrap(),
            )
            .unwrap(),
            hazmat::v2_encryptor(&data_key, Iv::from_slice(iv.as_bytes()).unwrap()),
        ),
        other => panic!("{name}: unexpected format {other:?}"),
    };
    assert_eq!(rebuilt.to_map(), fixture.metadata, "{name}: metadata bytes");
    assert_eq!(
        seal(encryptor, &plaintext).unwrap(),
        ciphertext,
        "{name}: ciphertext bytes"
    );
}

// ---------------------------------------------------------------- tampering

/// Every single-bit flip of the stored object (sampled for large objects) fails
/// authentication, as do truncation and extension.
pub fn check_tamper_detection(size: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let (data_key, message_id) = (rng.data_key(), rng.message_id());
    let metadata = v3_metadata(&data_key, "u/tamper", &message_id);
    let plaintext = rng.bytes(size);
    let object = seal(Encryptor::v3(&data_key, message_id), &plaintext).unwrap();
    assert_eq!(*open(&metadata, &data_key, &object).unwrap(), plaintext);

    let positions: Vec<usize> = if object.len() <= 64 {
        (0..object.len()).collect()
    } else {
        let mut p: Vec<usize> = (0..32).map(|_| rng.below(object.len())).collect();
        p.extend(object.len() - 16..object.len());
        p
    };
    for pos in positions {
        for bit in 0..8 {
            let mut bad = object.clone();
            bad[pos] ^= 1 << bit;
            assert!(
                open(&metadata, &data_key, &bad).is_err(),
                "flip {pos}:{bit}"
            );
            let pieces = random_chunks(&mut rng, bad.len(), 64);
            assert!(decrypt_in_pieces(&metadata, &data_key, &bad, &pieces).is_err());
        }
    }
    assert!(open(&metadata, &data_key, &object[..object.len() - 1]).is_err());
    let mut longer = object.clone();
    longer.push(0);
    assert!(open(&metadata, &data_key, &longer).is_err());
    assert!(open(&metadata, &data_key, &object[..object.len().min(15)]).is_err());
}
