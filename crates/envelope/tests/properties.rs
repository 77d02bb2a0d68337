//! Property tests (native): the streaming cipher equals one-shot `aes-gcm` for
//! random keys, sizes and chunkings, and every single-bit change fails.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use common::{decrypt_in_pieces, encrypt_in_pieces, v3_metadata};
use proptest::prelude::*;
use sealdrop_envelope::{ContentMetadata, DataKey, Encryptor, MessageId, hazmat, open, seal};

const MIB: usize = 1024 * 1024;

fn size_near_boundaries() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..=80,
        (1usize..=8).prop_flat_map(|k| (k * 16 - 2)..=(k * 16 + 2)),
        (5 * MIB - 40)..=(5 * MIB + 40),
    ]
}

fn chunking(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=(len.max(1) / 3 + 17), 0..12).prop_map(move |mut cuts| {
        let mut out = Vec::new();
        let mut left = len;
        for c in cuts.drain(..) {
            let c = c.min(left);
            out.push(c);
            left -= c;
        }
        out.push(left);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_one_shot_aes_gcm(
        (key, iv, aad) in common::strategies::gcm_inputs(),
        (plaintext, pieces) in size_near_boundaries()
            .prop_flat_map(|n| (prop::collection::vec(any::<u8>(), n), chunking(n))),
    ) {
        let streamed = encrypt_in_pieces(hazmat::encryptor(&key, &iv, &aad), &plaintext, &pieces);
        let mut one_shot = plaintext.clone();
        let tag = Aes256Gcm::new(&key.into())
            .encrypt_inout_detached(&Nonce::from(iv), &aad, one_shot.as_mut_slice().into())
            .unwrap();
        one_shot.extend_from_slice(&tag);
        prop_assert_eq!(streamed, one_shot);
    }

    #[test]
    fn v3_round_trip_any_chunking(
        key in any::<[u8; 32]>(),
        mid in any::<[u8; 28]>(),
        (plaintext, enc_pieces, dec_pieces) in size_near_boundaries()
            .prop_flat_map(|n| (prop::collection::vec(any::<u8>(), n), chunking(n), chunking(n + 16))),
    ) {
        let data_key = DataKey::from_slice(&key).unwrap();
        let message_id = MessageId::from_slice(&mid).unwrap();
        let metadata = v3_metadata(&data_key, "u/p", &message_id);
        let object = encrypt_in_pieces(Encryptor::v3(&data_key, message_id), &plaintext, &enc_pieces);
        prop_assert_eq!(decrypt_in_pieces(&metadata, &data_key, &object, &dec_pieces).unwrap(), plaintext);
    }

    #[test]
    fn any_bit_flip_in_object_message_id_commitment_or_key_fails(
        key in any::<[u8; 32]>(),
        mid in any::<[u8; 28]>(),
        plaintext in prop::collection::vec(any::<u8>(), 0..100),
        target in 0usize..4,
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let data_key = DataKey::from_slice(&key).unwrap();
        let message_id = MessageId::from_slice(&mid).unwrap();
        let metadata = v3_metadata(&data_key, "u/p", &message_id);
        let mut object = seal(Encryptor::v3(&data_key, message_id), &plaintext).unwrap();
        let flip = |bytes: &mut [u8]| { let i = index.index(bytes.len()); bytes[i] ^= 1 << bit; };
        let result = match target {
            0 => { flip(&mut object); open(&metadata, &data_key, &object).map(|_| ()) }
            1 => {
                let mut k = key; flip(&mut k);
                open(&metadata, &DataKey::from_slice(&k).unwrap(), &object).map(|_| ())
            }
            2 | 3 => {
                let sealdrop_envelope::ContentParams::V3 { message_id, commitment } = metadata.params() else { unreachable!() };
                let (mut m, mut c) = (*message_id.as_bytes(), *commitment.as_bytes());
                if target == 2 { flip(&mut m) } else { flip(&mut c) }
                let forged = ContentMetadata::v3(
                    metadata.encrypted_data_key().to_vec(),
                    metadata.wrapping().clone(),
                    MessageId::from_slice(&m).unwrap(),
                    sealdrop_envelope::Commitment::from_slice(&c).unwrap(),
                ).unwrap();
                open(&forged, &data_key, &object).map(|_| ())
            }
            _ => unreachable!(),
        };
        prop_assert!(result.is_err());
    }

    #[test]
    fn truncation_and_extension_fail(
        plaintext in prop::collection::vec(any::<u8>(), 0..100),
        cut in 1usize..20,
        extra in prop::collection::vec(any::<u8>(), 1..20),
    ) {
        let data_key = DataKey::from_slice(&[5; 32]).unwrap();
        let message_id = MessageId::from_slice(&[6; 28]).unwrap();
        let metadata = v3_metadata(&data_key, "u/p", &message_id);
        let object = seal(Encryptor::v3(&data_key, message_id), &plaintext).unwrap();
        let cut = cut.min(object.len());
        prop_assert!(open(&metadata, &data_key, &object[..object.len() - cut]).is_err());
        let mut longer = object.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(open(&metadata, &data_key, &longer).is_err());
    }

    #[test]
    fn metadata_parser_never_panics(
        entries in prop::collection::btree_map(
            prop::sample::select(vec![
                "x-amz-c", "x-amz-3", "x-amz-w", "x-amz-t", "x-amz-m", "x-amz-d", "x-amz-i",
                "x-amz-key", "x-amz-key-v2", "x-amz-iv", "x-amz-cek-alg", "x-amz-wrap-alg",
                "x-amz-matdesc", "x-amz-tag-len", "other",
            ]),
            ".{0,40}",
            0..9,
        ),
    ) {
        let _ = ContentMetadata::parse(entries.iter().map(|(k, v)| (*k, v.as_str())));
    }
}
