//! The WebCrypto fast path against the envelope's RustCrypto implementation,
//! for random sizes and segmentations, in headless Chromium.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use js_sys::Uint8Array;
use sealdrop_api::CseOpen;
use sealdrop_envelope::{
    ContentCipher, ContentMetadata, DataKey, EncryptionContext, Encryptor, Iv, KeyWrapping,
    MessageId, commitment, hazmat, seal,
};
use sealdrop_web::fastgcm::{ContentKeys, TagError, webcrypto};
use wasm_bindgen_test::wasm_bindgen_test;
use zeroize::Zeroizing;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Message IDs are move-only and consumed by what encrypts with them; these
/// tests compare two encryptions of one message, so they rebuild the same ID
/// from its bytes for each.
fn message_id_maker(rng: &mut Rng) -> impl Fn() -> MessageId + use<> {
    let bytes = rng.bytes(28);
    move || MessageId::from_slice(&bytes).unwrap()
}

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Random segment boundaries: multiples of 16 except the end.
fn segments(rng: &mut Rng, len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < len {
        let blocks = 1 + rng.below(if len > 100_000 { 8192 } else { 6 });
        let seg = (blocks * 16).min(len - offset);
        out.push((offset, seg));
        offset += seg;
    }
    out
}

/// Encrypts with the fast path; segments in shuffled order.
async fn fast_seal(keys: &ContentKeys, plaintext: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut segs = segments(rng, plaintext.len() as u64);
    for i in (1..segs.len()).rev() {
        segs.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut out = vec![0u8; plaintext.len()];
    let mut tags = keys.tag_builder(plaintext.len() as u64);
    for (offset, len) in segs {
        let range = offset as usize..(offset + len) as usize;
        let input = Uint8Array::from(&plaintext[range.clone()]);
        let ciphertext = webcrypto::aes_ctr(&keys.segment, offset, &input)
            .await
            .unwrap();
        let t_prime = webcrypto::ghash_segment(&keys.segment, &ciphertext)
            .await
            .unwrap();
        tags.add(offset, len, &t_prime).unwrap();
        Uint8Array::new(&ciphertext).copy_to(&mut out[range]);
    }
    out.extend_from_slice(&tags.finish().unwrap());
    out
}

fn sizes(rng: &mut Rng) -> Vec<usize> {
    let mut sizes: Vec<usize> = vec![0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 255, 256, 4097];
    sizes.extend((0..8).map(|_| rng.below(200_000) as usize));
    sizes.push(3 * 1024 * 1024 + 5);
    sizes
}

#[wasm_bindgen_test]
async fn v3_fast_path_equals_the_envelope() {
    let mut rng = Rng::new(7);
    for size in sizes(&mut rng) {
        let data_key = DataKey::from_slice(&rng.bytes(32)).unwrap();
        let message_id = message_id_maker(&mut rng);
        let plaintext = rng.bytes(size);
        let expected = seal(Encryptor::v3(&data_key, message_id()), &plaintext).unwrap();
        let keys = sealdrop_web::content::v3_keys(&data_key, message_id())
            .await
            .unwrap();
        let got = fast_seal(&keys, &plaintext, &mut rng).await;
        assert!(got == expected, "size {size}");
    }
}

#[wasm_bindgen_test]
async fn raw_gcm_with_any_iv_and_aad_equals_the_envelope() {
    let mut rng = Rng::new(11);
    for size in sizes(&mut rng) {
        let key: [u8; 32] = rng.bytes(32).try_into().unwrap();
        let iv: [u8; 12] = rng.bytes(12).try_into().unwrap();
        let aad_len = rng.below(40) as usize;
        let aad = rng.bytes(aad_len);
        let plaintext = rng.bytes(size);
        let expected = seal(hazmat::encryptor(&key, &iv, &aad), &plaintext).unwrap();
        let keys = ContentKeys::import(Zeroizing::new(key), iv, &aad)
            .await
            .unwrap();
        let got = fast_seal(&keys, &plaintext, &mut rng).await;
        assert!(got == expected, "size {size}, aad {}", aad.len());
    }
}

/// Decrypts a stored object (ciphertext ‖ tag) the way downloads do: GHASH
/// over each ciphertext segment, AES-CTR, then the tag check.
async fn fast_open(keys: &ContentKeys, object: &[u8], rng: &mut Rng) -> Result<Vec<u8>, TagError> {
    let (ciphertext, tag) = object.split_at(object.len() - 16);
    let mut tags = keys.tag_builder(ciphertext.len() as u64);
    let mut plaintext = vec![0u8; ciphertext.len()];
    for (offset, len) in segments(rng, ciphertext.len() as u64) {
        let range = offset as usize..(offset + len) as usize;
        let input = Uint8Array::from(&ciphertext[range.clone()]);
        let t_prime = webcrypto::ghash_segment(&keys.segment, &input)
            .await
            .unwrap();
        tags.add(offset, len, &t_prime)?;
        let output = webcrypto::aes_ctr(&keys.segment, offset, &input)
            .await
            .unwrap();
        Uint8Array::new(&output).copy_to(&mut plaintext[range]);
    }
    tags.verify(tag).map(|()| plaintext)
}

#[wasm_bindgen_test]
async fn decryption_authenticates_and_every_bit_flip_fails() {
    let mut rng = Rng::new(23);
    for size in [0usize, 1, 16, 33, 1000, 70_001] {
        let data_key = DataKey::from_slice(&rng.bytes(32)).unwrap();
        let message_id = message_id_maker(&mut rng);
        let plaintext = rng.bytes(size);
        let object = seal(Encryptor::v3(&data_key, message_id()), &plaintext).unwrap();
        let keys = sealdrop_web::content::v3_keys(&data_key, message_id())
            .await
            .unwrap();
        assert!(
            fast_open(&keys, &object, &mut rng).await.unwrap() == plaintext,
            "size {size}"
        );
        for _ in 0..6 {
            let mut tampered = object.clone();
            let bit = rng.below(object.len() as u64 * 8) as usize;
            tampered[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                fast_open(&keys, &tampered, &mut rng).await,
                Err(TagError::Mismatch)
            );
        }
    }
}

#[wasm_bindgen_test]
async fn tags_reject_gaps_overlaps_and_conflicts() {
    let keys = ContentKeys::import(Zeroizing::new([7; 32]), [1; 12], &[0, 0x73])
        .await
        .unwrap();
    let mut tags = keys.tag_builder(48);
    let t = [9u8; 16];
    assert!(matches!(
        tags.add(8, 16, &t),
        Err(TagError::BadSegment { .. })
    ));
    assert!(matches!(
        tags.add(0, 15, &t),
        Err(TagError::BadSegment { .. })
    ));
    assert!(matches!(
        tags.add(32, 32, &t),
        Err(TagError::BadSegment { .. })
    ));
    tags.add(0, 16, &t).unwrap();
    tags.add(0, 16, &t).unwrap();
    assert_eq!(
        tags.add(0, 16, &[8; 16]),
        Err(TagError::Conflict { offset: 0 })
    );
    assert_eq!(tags.finish(), Err(TagError::Coverage { at: 16 }));
}

fn v3_open(data_key: &DataKey, message_id: MessageId) -> CseOpen {
    let context =
        EncryptionContext::for_object("alice/x").to_stored(ContentCipher::CommittingAesGcm);
    let commitment = commitment(data_key, &message_id);
    let metadata = ContentMetadata::v3(
        vec![1; 40],
        KeyWrapping::Kms { context },
        message_id,
        commitment,
    )
    .unwrap();
    CseOpen {
        data_key: sealdrop_api::SecretString::new(data_key.to_base64().to_string()),
        metadata: metadata.to_map(),
    }
}

/// What `/objects/open` answers for a client-side encrypted object.
fn opened(cse: CseOpen, v3: bool) -> sealdrop_api::OpenObjectResponse {
    let envelope = sealdrop_api::ClientSideEncryption {
        kms_key_id: None,
        key_wrapping: sealdrop_api::KeyWrapping::KmsContext,
        encryption_context: Default::default(),
        server_side_encryption: None,
    };
    sealdrop_api::OpenObjectResponse {
        object: sealdrop_api::ObjectInfo {
            key: "alice/x".into(),
            name: "x".into(),
            stored_size: 0,
            size: 0,
            last_modified: String::new(),
            content_type: None,
            etag: None,
            encryption: if v3 {
                sealdrop_api::Encryption::CseV3(envelope)
            } else {
                sealdrop_api::Encryption::CseV2(envelope)
            },
        },
        download: sealdrop_api::PresignedRequest {
            method: sealdrop_api::PresignedMethod::Get,
            url: "http://s/x".into(),
            headers: Default::default(),
        },
        decryption: sealdrop_api::Decryption::Client(cse),
    }
}

async fn download_keys(cse: CseOpen, v3: bool) -> ContentKeys {
    sealdrop_web::content::for_download(&opened(cse, v3))
        .await
        .unwrap()
        .unwrap()
}

#[wasm_bindgen_test]
async fn download_keys_open_v3_and_v2_objects_and_check_the_commitment() {
    let mut rng = Rng::new(31);
    let plaintext = rng.bytes(5000);

    let data_key = DataKey::from_slice(&rng.bytes(32)).unwrap();
    let message_id = message_id_maker(&mut rng);
    let object = seal(Encryptor::v3(&data_key, message_id()), &plaintext).unwrap();
    let keys = download_keys(v3_open(&data_key, message_id()), true).await;
    assert!(fast_open(&keys, &object, &mut rng).await.unwrap() == plaintext);

    let other_key = DataKey::from_slice(&rng.bytes(32)).unwrap();
    let mut wrong = v3_open(&data_key, message_id());
    wrong.data_key = sealdrop_api::SecretString::new(other_key.to_base64().to_string());
    assert!(matches!(
        sealdrop_web::content::for_download(&opened(wrong, true)).await,
        Err(sealdrop_web::content::ContentError::Mismatch(_))
    ));

    let iv = Iv::from_slice(&rng.bytes(12)).unwrap();
    let stored_iv = Iv::from_slice(iv.as_bytes()).unwrap();
    let object = seal(hazmat::v2_encryptor(&data_key, iv), &plaintext).unwrap();
    let context = EncryptionContext::for_object("alice/x").to_stored(ContentCipher::AesGcm);
    let metadata =
        ContentMetadata::v2(vec![1; 40], KeyWrapping::Kms { context }, stored_iv).unwrap();
    let open = CseOpen {
        data_key: sealdrop_api::SecretString::new(data_key.to_base64().to_string()),
        metadata: metadata.to_map(),
    };
    let keys = download_keys(open, false).await;
    assert!(fast_open(&keys, &object, &mut rng).await.unwrap() == plaintext);
}

#[wasm_bindgen_test]
async fn upload_materials_must_describe_the_data_key() {
    let mut rng = Rng::new(41);
    let data_key = DataKey::from_slice(&rng.bytes(32)).unwrap();
    let message_id = message_id_maker(&mut rng);
    let open = v3_open(&data_key, message_id());
    let materials = |key: &DataKey, id: &MessageId| sealdrop_api::CseMaterials {
        format: sealdrop_api::CseFormat::V3,
        data_key: sealdrop_api::SecretString::new(key.to_base64().to_string()),
        message_id: id.to_base64(),
        kms_key_id: "local".into(),
        encryption_context: Default::default(),
        metadata: open.metadata.clone(),
    };
    let keys = sealdrop_web::content::for_upload(&materials(&data_key, &message_id()))
        .await
        .unwrap();
    let plaintext = rng.bytes(999);
    let expected = seal(Encryptor::v3(&data_key, message_id()), &plaintext).unwrap();
    assert!(fast_seal(&keys, &plaintext, &mut rng).await == expected);

    let other_key = DataKey::from_slice(&rng.bytes(32)).unwrap();
    let other_id = MessageId::from_slice(&rng.bytes(28)).unwrap();
    for bad in [
        materials(&other_key, &message_id()),
        materials(&data_key, &other_id),
    ] {
        assert!(matches!(
            sealdrop_web::content::for_upload(&bad).await,
            Err(sealdrop_web::content::ContentError::Materials(_))
        ));
    }
}
