//! The sign-in token: taken from a login link (`…/#token=…`, as `sealdrop serve`
//! prints it) or typed in, kept in `sessionStorage` (this tab only, gone when it
//! closes — never `localStorage`).

use web_sys::{Storage, UrlSearchParams};

const STORAGE_KEY: &str = "sealdrop.token";

/// This tab's `sessionStorage`, where every sign-in secret of the app lives.
pub(crate) fn storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The token of a login link, removed from the address bar (and so from the
/// history and from what a screenshot or a shared URL would show).
pub fn take_from_address_bar() -> Option<String> {
    let window = web_sys::window()?;
    let location = window.location();
    let hash = location.hash().ok()?;
    let params = UrlSearchParams::new_with_str(hash.strip_prefix('#')?).ok()?;
    let token = params.get("token")?.trim().to_owned();
    params.delete("token");
    let rest = params.to_string().as_string().unwrap_or_default();
    let clean = format!(
        "{}{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default(),
        if rest.is_empty() {
            String::new()
        } else {
            format!("#{rest}")
        }
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
    }
    (!token.is_empty()).then_some(token)
}

/// The token kept for this tab.
pub fn stored() -> Option<String> {
    storage()?
        .get_item(STORAGE_KEY)
        .ok()
        .flatten()
        .filter(|t| !t.is_empty())
}

/// Keeps the token for this tab.
pub fn store(token: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(STORAGE_KEY, token);
    }
}

/// Forgets the token.
pub fn clear() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(STORAGE_KEY);
    }
}
