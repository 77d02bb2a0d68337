//! Sending one presigned request body with `XMLHttpRequest` (the only browser
//! API with upload progress), retrying transient failures with exponential
//! backoff. Retries re-send the *same* bytes: nothing is ever re-encrypted here.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use js_sys::Object;
use sealdrop_api::PresignedRequest;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

use super::job::{JobContext, cancelled, internal};
use crate::js;
use crate::protocol::JobError;
use crate::storage_error::{self, StorageFailure};

/// Sends `body` as `request` describes; returns the response's `ETag`.
pub async fn send(
    request: &PresignedRequest,
    body: &JsValue,
    ctx: &JobContext,
) -> Result<Option<String>, JobError> {
    let mut attempt = 0;
    loop {
        ctx.check()?;
        let failure = match send_once(request, body, ctx).await {
            Ok(etag) => return Ok(etag),
            Err(failure) => failure,
        };
        let Some(delay) = storage_error::retry_delay_ms(&failure, attempt) else {
            return Err(failure.into_job_error());
        };
        ctx.progress(0, true);
        web_sys::console::warn_1(
            &format!("sealdrop: retrying a part: {}", failure.describe()).into(),
        );
        if !js::sleep(delay, ctx.signal()).await {
            return Err(cancelled());
        }
        attempt += 1;
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Loaded,
    NetworkError,
    Aborted,
}

/// The event handlers of one request; cleared before they are dropped, so the
/// request can never call into a dropped closure.
struct Handlers {
    xhr: XmlHttpRequest,
    _settle: Vec<Closure<dyn FnMut()>>,
    _progress: Closure<dyn FnMut(ProgressEvent)>,
    abort: Closure<dyn FnMut()>,
    ctx: JobContext,
}

impl Handlers {
    fn attach(xhr: &XmlHttpRequest, ctx: &JobContext) -> (Handlers, oneshot::Receiver<Outcome>) {
        let (sender, receiver) = oneshot::channel::<Outcome>();
        let sender = Rc::new(RefCell::new(Some(sender)));
        let settle = |outcome: Outcome| {
            let sender = sender.clone();
            Closure::<dyn FnMut()>::new(move || {
                if let Some(sender) = sender.borrow_mut().take() {
                    let _ = sender.send(outcome);
                }
            })
        };
        let settle = vec![
            settle(Outcome::Loaded),
            settle(Outcome::NetworkError),
            settle(Outcome::Aborted),
        ];
        xhr.set_onload(Some(settle[0].as_ref().unchecked_ref()));
        xhr.set_onerror(Some(settle[1].as_ref().unchecked_ref()));
        xhr.set_ontimeout(Some(settle[1].as_ref().unchecked_ref()));
        xhr.set_onabort(Some(settle[2].as_ref().unchecked_ref()));

        let progress_ctx = ctx.clone();
        let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            progress_ctx.progress(event.loaded() as u64, false);
        });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        }

        let to_abort = xhr.clone();
        let abort = Closure::<dyn FnMut()>::new(move || {
            let _ = to_abort.abort();
        });
        if let Some(signal) = ctx.signal() {
            let _ =
                signal.add_event_listener_with_callback("abort", abort.as_ref().unchecked_ref());
        }
        let handlers = Handlers {
            xhr: xhr.clone(),
            _settle: settle,
            _progress: progress,
            abort,
            ctx: ctx.clone(),
        };
        (handlers, receiver)
    }
}

impl Drop for Handlers {
    fn drop(&mut self) {
        self.xhr.set_onload(None);
        self.xhr.set_onerror(None);
        self.xhr.set_ontimeout(None);
        self.xhr.set_onabort(None);
        if let Ok(upload) = self.xhr.upload() {
            upload.set_onprogress(None);
        }
        if let Some(signal) = self.ctx.signal() {
            let _ = signal
                .remove_event_listener_with_callback("abort", self.abort.as_ref().unchecked_ref());
        }
    }
}

async fn send_once(
    request: &PresignedRequest,
    body: &JsValue,
    ctx: &JobContext,
) -> Result<Option<String>, StorageFailure> {
    let fatal = |e: JsValue| StorageFailure::fatal(internal("could not start the upload", &e));
    let xhr = XmlHttpRequest::new().map_err(fatal)?;
    xhr.open_with_async(request.method.as_str(), &request.url, true)
        .map_err(fatal)?;
    for (name, value) in &request.headers {
        if !storage_error::is_forbidden_header(name) {
            xhr.set_request_header(name, value).map_err(fatal)?;
        }
    }
    let (handlers, outcome) = Handlers::attach(&xhr, ctx);
    let sent = match body.dyn_ref::<Blob>() {
        Some(blob) => xhr.send_with_opt_blob(Some(blob)),
        None => xhr.send_with_opt_buffer_source(Some(body.unchecked_ref::<Object>())),
    };
    sent.map_err(fatal)?;
    let outcome = outcome.await.unwrap_or(Outcome::Aborted);
    drop(handlers);

    match outcome {
        Outcome::Aborted => Err(StorageFailure::fatal(cancelled())),
        Outcome::NetworkError => Err(StorageFailure::no_answer()),
        Outcome::Loaded => {
            let status = xhr.status().unwrap_or(0);
            if (200..300).contains(&status) {
                Ok(exposed_header(&xhr, "etag"))
            } else {
                let text = xhr.response_text().ok().flatten().unwrap_or_default();
                let retry_after = exposed_header(&xhr, "retry-after");
                Err(StorageFailure::answer(
                    status,
                    &text,
                    retry_after.as_deref(),
                ))
            }
        }
    }
}

/// A response header, if CORS lets the page see it. (Asking for a hidden one
/// with `getResponseHeader` logs a console error.)
fn exposed_header(xhr: &XmlHttpRequest, name: &str) -> Option<String> {
    let all = xhr.get_all_response_headers().ok()?;
    all.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
