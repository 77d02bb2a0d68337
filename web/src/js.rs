//! Small JavaScript interop helpers shared by the page and the workers.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Performance};

/// A readable description of a thrown JS value (`Error.message`, or its string form).
pub fn describe(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        let name = String::from(error.name());
        let message = String::from(error.message());
        return if name.is_empty() || name == "Error" {
            message
        } else {
            format!("{name}: {message}")
        };
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// The JS error name (`AbortError`, `NotReadableError`, …), if `value` is an Error
/// or DOMException.
pub fn error_name(value: &JsValue) -> Option<String> {
    Reflect::get(value, &"name".into()).ok()?.as_string()
}

/// `crypto` of the current global (window or worker).
pub fn crypto() -> Result<web_sys::Crypto, JsValue> {
    Reflect::get(&js_sys::global(), &"crypto".into())?
        .dyn_into()
        .map_err(|_| JsValue::from_str("WebCrypto is not available (an insecure context?)"))
}

/// Milliseconds on the monotonic clock of the current global.
pub fn now_ms() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Resolves after `ms` milliseconds, or early (with `false`) when `signal` aborts.
pub async fn sleep(ms: u32, signal: Option<&AbortSignal>) -> bool {
    if signal.is_some_and(AbortSignal::aborted) {
        return false;
    }
    let global = js_sys::global();
    let set_timeout: Option<Function> = Reflect::get(&global, &"setTimeout".into())
        .ok()
        .and_then(|f| f.dyn_into().ok());
    let Some(set_timeout) = set_timeout else {
        return true;
    };
    let signal = signal.cloned();
    let promise = Promise::new(&mut |resolve, _reject| {
        let _ = set_timeout.call2(&global, &resolve, &JsValue::from(ms));
        if let Some(signal) = &signal {
            let resolve = resolve.clone();
            let on_abort = Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::FALSE);
            });
            let _ = signal.add_event_listener_with_callback("abort", on_abort.unchecked_ref());
        }
    });
    !matches!(JsFuture::from(promise).await, Ok(v) if v == JsValue::FALSE)
}
