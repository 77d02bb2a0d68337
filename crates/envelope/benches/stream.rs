//! Native streaming encryption/decryption against one-shot `aes-gcm` on the same
//! buffer (BENCHMARKS.md: target ≥ 0.9×). Run with `cargo xtask bench envelope`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealdrop_envelope::{Tag, hazmat};

const SIZE: usize = 64 * 1024 * 1024;
const KEY: [u8; 32] = [7; 32];
const IV: [u8; 12] = [1; 12];
const AAD: [u8; 2] = [0x00, 0x73];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("aes-256-gcm 64 MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.sample_size(10);
    let mut buf = vec![0x5a_u8; SIZE];

    group.bench_function("one-shot aes-gcm encrypt", |b| {
        let aead = Aes256Gcm::new(&KEY.into());
        b.iter(|| {
            aead.encrypt_inout_detached(&Nonce::from(IV), &AAD, buf.as_mut_slice().into())
                .unwrap()
        })
    });
    for piece in [64 * 1024, 1024 * 1024] {
        group.bench_with_input(
            BenchmarkId::new("streaming encrypt, piece", piece),
            &piece,
            |b, &piece| {
                b.iter(|| {
                    let mut enc = hazmat::encryptor(&KEY, &IV, &AAD);
                    for chunk in buf.chunks_mut(piece) {
                        enc.encrypt_in_place(chunk).unwrap();
                    }
                    enc.finish()
                })
            },
        );
    }
    group.bench_function("one-shot aes-gcm decrypt", |b| {
        let aead = Aes256Gcm::new(&KEY.into());
        let mut ct = buf.clone();
        let tag = aead
            .encrypt_inout_detached(&Nonce::from(IV), &AAD, ct.as_mut_slice().into())
            .unwrap();
        // The ciphertext copy each iteration decrypts in place is made outside the timing.
        b.iter_batched_ref(
            || ct.clone(),
            |work| {
                aead.decrypt_inout_detached(
                    &Nonce::from(IV),
                    &AAD,
                    work.as_mut_slice().into(),
                    &tag,
                )
                .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("streaming decrypt, piece 1048576", |b| {
        let mut ct = buf.clone();
        let mut enc = hazmat::encryptor(&KEY, &IV, &AAD);
        enc.encrypt_in_place(&mut ct).unwrap();
        let tag: Tag = enc.finish();
        b.iter_batched_ref(
            || ct.clone(),
            |work| {
                let mut dec = hazmat::unverified_decryptor(&KEY, &IV, &AAD);
                for chunk in work.chunks_mut(1024 * 1024) {
                    dec.decrypt_in_place(chunk).unwrap();
                }
                dec.finish(&tag).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
