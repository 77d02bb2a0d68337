//! Streaming round trips and tamper detection with a deterministic PRNG, so the
//! same cases run natively and in headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Rng, decrypt_in_pieces, encrypt_in_pieces, random_chunks, same_id, v3_metadata};
use sealdrop_envelope::{
    DataKey, Encryptor, MessageId, PartEncryptor, PartPlan, TAG_LEN, open, seal,
};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const MIB: usize = 1024 * 1024;

fn sizes() -> Vec<usize> {
    let mut sizes: Vec<usize> = (0..=64).collect();
    sizes.extend([4095, 4096, 4097, 65535, 65536, 65537]);
    sizes.extend([
        5 * MIB - 17,
        5 * MIB - 16,
        5 * MIB - 1,
        5 * MIB,
        5 * MIB + 1,
        5 * MIB + 16,
    ]);
    sizes
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn v3_round_trips_at_every_boundary_with_random_chunking() {
    let mut rng = Rng::new(1);
    for size in sizes() {
        let (data_key, message_id) = (rng.data_key(), rng.message_id());
        let metadata = v3_metadata(&data_key, "u/x", &message_id);
        let plaintext = rng.bytes(size);
        let max_piece = if size > MIB { 300_000 } else { 40 };
        let pieces = random_chunks(&mut rng, size, max_piece);
        let object = encrypt_in_pieces(
            Encryptor::v3(&data_key, same_id(&message_id)),
            &plaintext,
            &pieces,
        );
        assert_eq!(object.len(), size + TAG_LEN);
        assert_eq!(
            object,
            seal(Encryptor::v3(&data_key, message_id), &plaintext).unwrap()
        );
        let pieces = random_chunks(&mut rng, object.len(), max_piece);
        assert_eq!(
            decrypt_in_pieces(&metadata, &data_key, &object, &pieces).unwrap(),
            plaintext,
            "size {size}"
        );
        assert_eq!(*open(&metadata, &data_key, &object).unwrap(), plaintext);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn multipart_parts_concatenate_to_the_single_put_object() {
    let mut rng = Rng::new(2);
    for size in [
        0,
        1,
        16,
        17,
        5 * MIB - 1,
        5 * MIB,
        5 * MIB + 1,
        11 * MIB + 3,
    ] {
        let (data_key, message_id) = (rng.data_key(), rng.message_id());
        let plaintext = rng.bytes(size);
        let plan = PartPlan::new(size as u64, 5 * MIB as u64).unwrap();
        let mut parts = PartEncryptor::new(Encryptor::v3(&data_key, same_id(&message_id)), plan);
        let mut stored = Vec::new();
        while let Some(spec) = parts.next_part() {
            let start = spec.plaintext_offset as usize;
            let mut buf = plaintext[start..start + spec.plaintext_len as usize].to_vec();
            let done = parts.encrypt_next(&mut buf).unwrap();
            assert_eq!(done, spec);
            assert_eq!(buf.len() as u64, spec.ciphertext_len());
            if !spec.is_last {
                assert_eq!(buf.len() % 16, 0);
            }
            stored.extend_from_slice(&buf);
        }
        assert!(parts.encrypt_next(&mut Vec::new()).is_err());
        assert_eq!(
            stored,
            seal(Encryptor::v3(&data_key, message_id), &plaintext).unwrap()
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn tampering_is_detected() {
    for (size, seed) in [
        (0, 1),
        (1, 2),
        (15, 3),
        (16, 4),
        (17, 5),
        (33, 6),
        (4097, 7),
    ] {
        common::check_tamper_detection(size, seed);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn wrong_key_message_id_or_commitment_fails_before_decryption() {
    use sealdrop_envelope::{DecryptError, verify_commitment};
    let mut rng = Rng::new(3);
    let (data_key, message_id) = (rng.data_key(), rng.message_id());
    let metadata = v3_metadata(&data_key, "u/x", &message_id);
    let object = seal(Encryptor::v3(&data_key, same_id(&message_id)), b"hello").unwrap();

    let mut key_bytes = *data_key.expose_secret();
    key_bytes[0] ^= 1;
    let wrong_key = DataKey::from_slice(&key_bytes).unwrap();
    assert!(matches!(
        metadata.unverified_object_decryptor(&wrong_key),
        Err(DecryptError::CommitmentMismatch)
    ));

    let mut mid = *message_id.as_bytes();
    mid[27] ^= 0x80;
    let moved = v3_metadata(&data_key, "u/x", &MessageId::from_slice(&mid).unwrap());
    let forged = sealdrop_envelope::ContentMetadata::v3(
        metadata.encrypted_data_key().to_vec(),
        metadata.wrapping().clone(),
        MessageId::from_slice(&mid).unwrap(),
        match metadata.params() {
            sealdrop_envelope::ContentParams::V3 { commitment, .. } => *commitment,
            _ => unreachable!(),
        },
    )
    .unwrap();
    assert!(matches!(
        open(&forged, &data_key, &object),
        Err(DecryptError::CommitmentMismatch)
    ));
    // A consistent commitment for another message ID still cannot open this object.
    assert!(matches!(
        open(&moved, &data_key, &object),
        Err(DecryptError::Authentication)
    ));

    for i in 0..28 {
        let sealdrop_envelope::ContentParams::V3 {
            message_id,
            commitment,
        } = metadata.params()
        else {
            unreachable!()
        };
        let mut c = *commitment.as_bytes();
        c[i] ^= 1;
        let c = sealdrop_envelope::Commitment::from_slice(&c).unwrap();
        assert!(verify_commitment(&data_key, message_id, &c).is_err());
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn hazmat_parts_reproduce_the_object_with_raw_gcm() {
    use sealdrop_envelope::hazmat;
    let mut rng = Rng::new(4);
    let (data_key, message_id) = (rng.data_key(), rng.message_id());
    let plaintext = rng.bytes(1000);
    let object = seal(Encryptor::v3(&data_key, same_id(&message_id)), &plaintext).unwrap();

    let parts = hazmat::v3_encryption_parts(&data_key, same_id(&message_id));
    let raw = encrypt_in_pieces(
        hazmat::encryptor(&parts.key, &parts.iv, parts.aad),
        &plaintext,
        &[1000],
    );
    assert_eq!(raw, object);

    let metadata = v3_metadata(&data_key, "u/x", &message_id);
    let parts = hazmat::decryption_parts(&metadata, &data_key).unwrap();
    assert_eq!(parts.iv, [1; 12]);
    assert_eq!(parts.aad, &[0x00, 0x73]);
    let mut wrong = *data_key.expose_secret();
    wrong[3] ^= 1;
    assert!(hazmat::decryption_parts(&metadata, &DataKey::from_slice(&wrong).unwrap()).is_err());
}
