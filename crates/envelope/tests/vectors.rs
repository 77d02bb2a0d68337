//! Published test vectors, natively and in headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn nist_cavp_aes256_gcm_vectors_stream_byte_identically() {
    assert_eq!(common::check_nist_gcm_vectors(), 180);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn wycheproof_hkdf_sha512_vectors() {
    assert_eq!(common::check_hkdf_sha512_vectors(), 20);
}
