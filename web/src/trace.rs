//! Time spent per stage in this thread (page or worker), for the benchmark's
//! profile of the pipeline. A span costs two `performance.now()` calls; the sums
//! are posted on the `sealdrop-trace` `BroadcastChannel` when a job ends (one
//! tiny message per job) and are otherwise unused.

use std::cell::RefCell;
use std::collections::BTreeMap;

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use crate::js;

/// The channel the benchmark page listens on.
pub const CHANNEL: &str = "sealdrop-trace";

thread_local! {
    static SPANS: RefCell<BTreeMap<&'static str, (f64, u32)>> = const { RefCell::new(BTreeMap::new()) };
}

/// Adds `ms` to stage `name`.
pub fn add(name: &'static str, ms: f64) {
    SPANS.with_borrow_mut(|spans| {
        let entry = spans.entry(name).or_default();
        entry.0 += ms;
        entry.1 += 1;
    });
}

/// Measures until dropped.
pub struct Span {
    name: &'static str,
    started: f64,
}

/// Starts measuring stage `name`.
pub fn span(name: &'static str) -> Span {
    Span {
        name,
        started: js::now_ms(),
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        add(self.name, js::now_ms() - self.started);
    }
}

/// Posts the sums so far (`{stage: [ms, count]}`) and starts over.
pub fn flush() {
    let spans = SPANS.with_borrow_mut(std::mem::take);
    if spans.is_empty() {
        return;
    }
    let message = Object::new();
    for (name, (ms, count)) in spans {
        let pair = js_sys::Array::of2(&JsValue::from(ms), &JsValue::from(count));
        let _ = Reflect::set(&message, &name.into(), &pair);
    }
    if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
        let _ = channel.post_message(&message);
        channel.close();
    }
}
