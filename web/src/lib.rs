//! # sealdrop-web
//!
//! The browser app: sign-in, uploads with client-side (S3EC V3) or server-side
//! encryption, the object list, and downloads that reach the user's disk only
//! if they authenticate. Heavy crypto and transfers run in Web Workers; see
//! `web/README.md` for the architecture.
#![forbid(unsafe_code)]

pub mod api;
mod app;
#[cfg(feature = "bench")]
mod bench;
pub mod config;
pub mod content;
pub mod download;
pub mod fastgcm;
pub mod js;
pub mod opfs;
pub mod pool;
pub mod protocol;
pub mod services;
pub mod session;
mod sso;
pub mod storage_error;
pub mod trace;
pub mod tuning;
pub mod ui;
pub mod upload;
mod worker;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point of the page (called by `boot.js`): the app. Built with the
/// `bench` feature (`web/bench.html`, never the product's `dist/`), `?bench`
/// runs the benchmark page instead.
#[wasm_bindgen]
pub fn start_app() {
    #[cfg(feature = "bench")]
    if let Some(query) = bench::requested() {
        wasm_bindgen_futures::spawn_local(bench::run(query));
        return;
    }
    wasm_bindgen_futures::spawn_local(app::start());
}

/// Entry point of a worker (called by `worker.js`).
#[wasm_bindgen]
pub fn start_worker() {
    worker::start();
}
