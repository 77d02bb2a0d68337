//! Property tests (native) of `hazmat`'s segmented GCM: segments encrypted
//! independently — with AES-CTR and a GHASH value per segment (the way WebCrypto
//! produces them), or with one AES-GCM call per part under a crafted 16-byte IV —
//! combine into exactly the ciphertext and tag of one-shot `aes-gcm` and of the
//! crate's streaming `Encryptor`.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit, StreamCipher};
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U16;
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use common::{Rng, same_id};
use proptest::prelude::*;
use sealdrop_envelope::hazmat::{
    self, BLOCK_LEN, Block, GhashKey, TagBuilder, TagError, counter_block, part_j0,
};
use sealdrop_envelope::{DataKey, Encryptor, MessageId, seal};

/// AES-256-GCM with 16-byte IVs, for the crafted per-part IVs.
type Aes256Gcm16 = AesGcm<Aes256, U16>;

const KIB: usize = 1024;

/// How a segment's GHASH contribution is obtained.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// AES-CTR for the ciphertext, then AES-GCM of an empty plaintext with the
    /// ciphertext as AAD (`T'`), as the web app's workers do with WebCrypto.
    CtrAndGhash,
    /// One AES-GCM encryption of the plaintext under `IV_b` (`T_b`), plus the
    /// empty encryption under `IV_b` that yields `E_K(J0_b)`.
    CraftedIv,
}

/// The object's content split at 16-byte boundaries: `(offset, len)` in order.
fn segments(len: usize, cuts: &[u64]) -> Vec<(u64, u64)> {
    let blocks = (len as u64).div_ceil(BLOCK_LEN);
    let mut points: Vec<u64> = cuts
        .iter()
        .map(|c| c % blocks.max(1) * BLOCK_LEN)
        .filter(|&p| p > 0 && p < len as u64)
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut bounds = vec![0];
    bounds.extend(points);
    bounds.push(len as u64);
    bounds
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| (w[0], w[1] - w[0]))
        .collect()
}

/// The GCM ciphertext of one segment from AES-CTR at `IV ‖ be32(2 + b)`.
fn ctr_segment(key: &[u8; 32], iv: &[u8; 12], offset: u64, plaintext: &[u8]) -> Vec<u8> {
    let counter = counter_block(iv, offset / BLOCK_LEN).unwrap();
    let mut ctr = ctr::Ctr32BE::<Aes256>::new(&(*key).into(), &counter.into());
    let mut out = plaintext.to_vec();
    ctr.apply_keystream(&mut out);
    out
}

/// `T'`: what WebCrypto's AES-GCM returns for an empty plaintext with the
/// segment's ciphertext as additional data, under the message's key and IV.
fn ghash_segment(key: &[u8; 32], iv: &[u8; 12], ciphertext: &[u8]) -> Block {
    let tag = Aes256Gcm::new(&(*key).into())
        .encrypt_inout_detached(&Nonce::from(*iv), ciphertext, (&mut [][..]).into())
        .unwrap();
    tag.into()
}

/// One AES-GCM encryption of a part under the crafted IV: `(C_b, T_b, E_K(J0_b))`.
fn crafted_part(
    key: &[u8; 32],
    ghash: &GhashKey,
    iv: &[u8; 12],
    offset: u64,
    plaintext: &[u8],
) -> (Vec<u8>, Block, Block) {
    let part_iv = ghash.part_iv(iv, offset / BLOCK_LEN).unwrap();
    let gcm = Aes256Gcm16::new(&(*key).into());
    let nonce = Nonce::<U16>::from(part_iv);
    let mut ciphertext = plaintext.to_vec();
    let tag = gcm
        .encrypt_inout_detached(&nonce, &[], ciphertext.as_mut_slice().into())
        .unwrap();
    let mask = gcm
        .encrypt_inout_detached(&nonce, &[], (&mut [][..]).into())
        .unwrap();
    (ciphertext, tag.into(), mask.into())
}

/// Encrypts `plaintext` segment by segment along `routes` (cycled), reporting
/// the segments to a `TagBuilder` in the order `order_seed` picks. Returns
/// ciphertext ‖ tag.
fn segmented(
    key: &[u8; 32],
    iv: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
    segments: &[(u64, u64)],
    routes: &[Route],
    order_seed: u64,
) -> Vec<u8> {
    let ghash = GhashKey::derive(key, iv);
    let mut tags = TagBuilder::new(&ghash, aad, plaintext.len() as u64);
    let mut object = vec![0u8; plaintext.len()];
    let mut order: Vec<usize> = (0..segments.len()).collect();
    let mut rng = Rng::new(order_seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for i in order {
        let (offset, len) = segments[i];
        let range = offset as usize..(offset + len) as usize;
        let route = routes[i % routes.len()];
        let ciphertext = match route {
            Route::CtrAndGhash => {
                let ciphertext = ctr_segment(key, iv, offset, &plaintext[range.clone()]);
                let t_prime = ghash_segment(key, iv, &ciphertext);
                tags.add(offset, len, &t_prime).unwrap();
                ciphertext
            }
            Route::CraftedIv => {
                let (ciphertext, part_tag, mask) =
                    crafted_part(key, &ghash, iv, offset, &plaintext[range.clone()]);
                tags.add_part_tag(offset, len, &part_tag, &mask).unwrap();
                ciphertext
            }
        };
        object[range].copy_from_slice(&ciphertext);
    }
    assert!(tags.is_complete());
    let tag = tags.finish().unwrap();
    tags.verify(&tag).unwrap();
    let mut forged = tag;
    forged[(order_seed % 16) as usize] ^= 1 << (order_seed % 8);
    assert_eq!(tags.verify(&forged), Err(TagError::Mismatch));
    object.extend_from_slice(&tag);
    object
}

fn one_shot(key: &[u8; 32], iv: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = plaintext.to_vec();
    let tag = Aes256Gcm::new(&(*key).into())
        .encrypt_inout_detached(&Nonce::from(*iv), aad, out.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(&tag);
    out
}

fn plaintext_len() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=100, 0usize..=100 * KIB]
}

fn routes() -> impl Strategy<Value = Vec<Route>> {
    prop::collection::vec(
        prop_oneof![Just(Route::CtrAndGhash), Just(Route::CraftedIv)],
        1..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn segments_combine_into_the_one_shot_ciphertext_and_tag(
        (key, iv, aad) in common::strategies::gcm_inputs(),
        len in plaintext_len(),
        content_seed in any::<u64>(),
        cuts in prop::collection::vec(any::<u64>(), 0..12),
        routes in routes(),
        order_seed in any::<u64>(),
    ) {
        let plaintext = Rng::new(content_seed).bytes(len);
        let segments = segments(len, &cuts);
        let got = segmented(&key, &iv, &aad, &plaintext, &segments, &routes, order_seed);
        prop_assert_eq!(&got, &one_shot(&key, &iv, &aad, &plaintext));
        prop_assert_eq!(&got, &seal(hazmat::encryptor(&key, &iv, &aad), &plaintext).unwrap());
    }

    #[test]
    fn v3_objects_come_out_of_segments_byte_identical(
        data_key in any::<[u8; 32]>(),
        message_id in any::<[u8; 28]>(),
        len in plaintext_len(),
        content_seed in any::<u64>(),
        cuts in prop::collection::vec(any::<u64>(), 0..8),
        routes in routes(),
        order_seed in any::<u64>(),
    ) {
        let data_key = DataKey::from_slice(&data_key).unwrap();
        let message_id = MessageId::from_slice(&message_id).unwrap();
        let plaintext = Rng::new(content_seed).bytes(len);
        let parts = hazmat::v3_encryption_parts(&data_key, same_id(&message_id));
        let got = segmented(
            &parts.key, &parts.iv, parts.aad, &plaintext, &segments(len, &cuts), &routes, order_seed,
        );
        prop_assert_eq!(got, seal(Encryptor::v3(&data_key, message_id), &plaintext).unwrap());
    }

    #[test]
    fn a_crafted_iv_starts_gcm_at_the_parts_pre_counter_block(
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 12]>(),
        first_block in prop_oneof![0u64..1000, any::<u32>().prop_map(|b| u64::from(b) % ((1 << 32) - 2))],
    ) {
        let ghash = GhashKey::derive(&key, &iv);
        let (_, _, mask) = crafted_part(&key, &ghash, &iv, first_block * BLOCK_LEN, &[]);
        let mut expected = aes::Block::from(part_j0(&iv, first_block).unwrap());
        Aes256::new(&key.into()).encrypt_block(&mut expected);
        prop_assert_eq!(mask, Block::from(expected));
    }
}

#[test]
fn the_last_block_gcm_allows_is_reachable_and_the_next_is_not() {
    let ghash = GhashKey::derive(&[9; 32], &[8; 12]);
    let last = (1u64 << 32) - 3;
    assert!(ghash.part_iv(&[8; 12], last).is_ok());
    assert!(ghash.part_iv(&[8; 12], last + 1).is_err());
    assert!(counter_block(&[8; 12], last + 1).is_err());
}

#[test]
fn empty_and_single_segment_messages() {
    let (key, iv) = ([1u8; 32], [2u8; 12]);
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33] {
        let plaintext = Rng::new(len as u64).bytes(len);
        for routes in [[Route::CtrAndGhash], [Route::CraftedIv]] {
            let got = segmented(&key, &iv, b"A", &plaintext, &segments(len, &[]), &routes, 3);
            assert_eq!(got, one_shot(&key, &iv, b"A", &plaintext), "len {len}");
        }
    }
}
