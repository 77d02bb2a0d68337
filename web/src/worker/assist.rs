//! The helper half of a download: decrypts segments that the download's worker
//! sends over a `MessagePort` (see `open.rs`), so two cores share the crypto
//! while the download's worker reads the stream and writes the staging file.

use futures::StreamExt;
use futures::channel::mpsc;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MessageEvent;

use super::job::{JobContext, cancelled};
use super::segment;
use crate::fastgcm::SegmentKeys;
use crate::js;
use crate::protocol::{Attachments, Event, FailureKind, JobError};

/// Serves segments until the page cancels the job.
pub async fn run(attachments: Attachments, ctx: &JobContext) -> Result<Event, JobError> {
    let (Some(keys), Some(port)) = (attachments.keys, attachments.port) else {
        return Err(JobError::new(
            FailureKind::Internal,
            "assist job without keys or port",
        ));
    };
    let (sender, mut requests) = mpsc::unbounded::<Option<JsValue>>();
    let forward = sender.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let _ = forward.unbounded_send(Some(event.data()));
    });
    port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let stop = Closure::<dyn FnMut()>::new(move || {
        let _ = sender.unbounded_send(None);
    });
    if let Some(signal) = ctx.signal() {
        let _ = signal.add_event_listener_with_callback("abort", stop.as_ref().unchecked_ref());
    }
    loop {
        let idle = crate::trace::span("assist.idle");
        let Some(Some(request)) = requests.next().await else {
            break;
        };
        drop(idle);
        let reply = match serve(&keys, &request).await {
            Ok(reply) => reply,
            Err(error) => error_reply(&js::describe(&error)),
        };
        let (message, transfer) = reply;
        if let Err(error) = port.post_message_with_transferable(&message, &transfer) {
            web_sys::console::error_1(&error);
        }
    }
    port.set_onmessage(None);
    port.close();
    if let Some(signal) = ctx.signal() {
        let _ = signal.remove_event_listener_with_callback("abort", stop.as_ref().unchecked_ref());
    }
    Err(cancelled())
}

async fn serve(keys: &SegmentKeys, request: &JsValue) -> Result<(JsValue, Array), JsValue> {
    let request = segment::Request::decode(request)?;
    let ciphertext = Uint8Array::new_with_byte_offset_and_length(&request.data, 0, request.len);
    let plaintext = segment::decrypt(keys, request.offset, &ciphertext).await?;
    let reply = segment::Reply {
        offset: request.offset,
        len: request.len,
        data: plaintext,
        spare: Some(request.data),
    };
    reply.encode()
}

fn error_reply(message: &str) -> (JsValue, Array) {
    let reply = Object::new();
    let _ = Reflect::set(&reply, &"error".into(), &message.into());
    (reply.into(), Array::new())
}
