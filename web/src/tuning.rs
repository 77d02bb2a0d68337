//! Throughput and memory knobs of the transfer pipeline, in one place.
//! Memory does not depend on the file size: about `PARTS_IN_FLIGHT` × part size
//! (8 MiB by default) of plaintext and ciphertext, a few segments per download,
//! plus what the garbage collector has not reclaimed yet (see [`WORKERS`]).

/// Bytes per WebCrypto call (a multiple of 16): the broker's part size, so an
/// upload part is one AES-CTR and one GHASH call whose output is the request
/// body as is. Smaller calls were measured slower here (their outputs must be
/// copied into one body; downloads assemble and hand off fewer buffers).
pub const SEGMENT_LEN: u64 = 8 * 1024 * 1024;

/// Workers started per session. Two use two cores for crypto (parts of an
/// upload in parallel; a download and its decryption helper). More do not pay:
/// each busy worker also holds up to ~150–200 MiB of `ArrayBuffer`s that V8 has
/// not collected yet (see BENCHMARKS.md), and throughput is then bound by
/// reading the file and by the network.
pub const WORKERS: usize = 2;

/// Parts being encrypted or sent at once, over all uploads.
pub const PARTS_IN_FLIGHT: usize = 4;

/// Uploads started at once (small files overlap their API round trips).
pub const ACTIVE_UPLOADS: usize = 3;

/// A presigned URL is refreshed when it has less than this left.
pub const PRESIGN_MARGIN_MS: f64 = 60_000.0;

/// Parts signed per `uploads/parts` call (the API allows up to 100).
pub const SIGN_BATCH: usize = 32;
