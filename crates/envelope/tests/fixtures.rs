//! Objects written by the official `amazon-s3-encryption-client-python`: we must
//! decrypt them, and write byte-identical metadata and ciphertext for the same
//! data key and message ID (or IV). See `tests/fixtures/s3ec/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn official_client_fixtures_decrypt_and_reencrypt_identically() {
    assert_eq!(common::FIXTURES.len(), 14);
    for (name, json) in common::FIXTURES {
        common::check_fixture(name, json);
    }
}
