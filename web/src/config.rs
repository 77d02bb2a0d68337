//! Deployment configuration: `config.json` next to `index.html`.
//!
//! ```json
//! { "api_base": "https://broker.example.com" }
//! ```
//!
//! `api_base` is the origin (and optional path) of the broker; absent, empty or
//! no file at all means "the origin this page came from". This lets the static
//! `dist/` be hosted anywhere while the broker runs elsewhere.

use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCache, RequestInit, Response};

use crate::js;

/// The app's configuration.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Config {
    /// Broker base URL without a trailing slash; empty for this page's origin.
    #[serde(default)]
    pub api_base: String,
}

/// Loads `config.json`; a missing file means the defaults, a broken one too
/// (with a console warning, since the page can still work same-origin).
pub async fn load() -> Config {
    match fetch().await {
        Ok(Some(config)) => Config {
            api_base: config.api_base.trim().trim_end_matches('/').to_owned(),
        },
        Ok(None) => Config::default(),
        Err(why) => {
            web_sys::console::warn_1(&format!("sealdrop: ignoring config.json: {why}").into());
            Config::default()
        }
    }
}

async fn fetch() -> Result<Option<Config>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoCache);
    let response: Response = JsFuture::from(window.fetch_with_str_and_init("config.json", &init))
        .await
        .map_err(|e| js::describe(&e))?
        .unchecked_into();
    if response.status() == 404 {
        return Ok(None);
    }
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(|e| js::describe(&e))?)
        .await
        .map_err(|e| js::describe(&e))?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| e.to_string())
}
