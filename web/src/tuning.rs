//! Throughput and memory knobs of the transfer pipeline, in one place.
//! Memory does not depend on the file size: about 3 × `BYTES_IN_FLIGHT` for
//! uploads (plaintext, ciphertext, request copies), a few segments per download
//! (see `worker/decrypting.rs`), plus what the garbage collector has not
//! reclaimed yet (see [`WORKERS`]).

/// Bytes per WebCrypto call (a multiple of 16): the broker's part size, so an
/// upload part is one AES-CTR and one GHASH call whose output is the request
/// body as is. Smaller calls were measured slower here (their outputs must be
/// copied into one body; downloads assemble and hand off fewer buffers).
pub const SEGMENT_LEN: u64 = 8 * 1024 * 1024;

/// Ciphertext bytes per segment of a download (a multiple of 16): the unit of
/// a download's memory (the buffer being filled, 2 at the decryption helper,
/// 2 kept for reuse, and the plaintext results). 4 MiB decrypts as fast as
/// 8 MiB here (1 MiB too) with half the bytes in flight.
pub const DOWNLOAD_SEGMENT_LEN: u64 = 4 * 1024 * 1024;

/// Workers started per session. Two use two cores for crypto (parts of an
/// upload in parallel; a download and its decryption helper). More do not pay:
/// each busy worker also holds up to ~150–200 MiB of `ArrayBuffer`s that V8 has
/// not collected yet (see BENCHMARKS.md), and throughput is then bound by
/// reading the file and by the network.
pub const WORKERS: usize = 2;

/// Plaintext bytes of the parts being read, encrypted or sent at once, over all
/// uploads (a part larger than this goes alone): 4 of the broker's 8 MiB parts.
/// Each part in flight holds about three times its size (plaintext, ciphertext,
/// the request's copy) until it is stored.
pub const BYTES_IN_FLIGHT: u64 = 32 * 1024 * 1024;

/// Parts of one upload in flight at once (within [`BYTES_IN_FLIGHT`]).
pub const PARTS_IN_FLIGHT: usize = 4;

/// Uploads started at once (small files overlap their API round trips).
pub const ACTIVE_UPLOADS: usize = 3;

/// A presigned URL is refreshed when it has less than this left.
pub const PRESIGN_MARGIN_MS: f64 = 60_000.0;

/// Parts signed per `uploads/parts` call (the API allows up to 100).
pub const SIGN_BATCH: u32 = 32;
