//! The worker side. `web/worker.js` loads the app module in a dedicated module
//! worker and calls [`start`]; from then on the worker executes [`Command`]s.
//! Bulk data and heavy crypto live here because WebCrypto blocks its calling
//! thread in Chromium: the page's thread only coordinates.

mod assist;
mod decrypting;
mod job;
mod open;
mod put;
mod seal;
mod segment;

use std::cell::RefCell;
use std::collections::HashMap;

use futures::channel::oneshot;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, DedicatedWorkerGlobalScope, MessageEvent};

use crate::protocol::{self, Attachments, Command, Event, JobId};
use job::JobContext;

/// What the message handler can do to a running job.
struct Running {
    abort: Option<AbortController>,
    tag: Option<oneshot::Sender<[u8; 16]>>,
}

thread_local! {
    static RUNNING: RefCell<HashMap<JobId, Running>> = RefCell::new(HashMap::new());
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Posts an event to the page.
pub(crate) fn post(event: &Event, attachments: &Attachments) {
    match protocol::encode(event, attachments) {
        Ok(message) => {
            if let Err(error) = scope().post_message(&message) {
                web_sys::console::error_1(&error);
            }
            protocol::wipe(&message);
        }
        Err(error) => web_sys::console::error_1(&error),
    }
}

/// Installs the command handler and tells the page the worker is ready.
pub fn start() {
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        on_command(&event.data());
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&Event::Ready, &Attachments::default());
}

fn on_command(message: &JsValue) {
    let (command, attachments) = match protocol::decode::<Command>(message) {
        Ok(decoded) => decoded,
        Err(why) => {
            web_sys::console::error_1(&format!("sealdrop worker: {why}").into());
            return;
        }
    };
    match command {
        Command::Seal(job) => {
            let (context, tag) = register(job.job, job.needs_tag);
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = seal::run(job, attachments, &context, tag).await;
                finish(context, outcome);
            });
        }
        Command::Open(job) => {
            let (context, _) = register(job.job, false);
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = open::run(job, attachments, &context).await;
                finish(context, outcome);
            });
        }
        Command::Assist { job } => {
            let (context, _) = register(job, false);
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = assist::run(attachments, &context).await;
                finish(context, outcome);
            });
        }
        Command::Tag { job, tag } => {
            let sender = RUNNING.with_borrow_mut(|running| running.get_mut(&job)?.tag.take());
            if let Some(sender) = sender {
                let _ = sender.send(tag);
            }
        }
        Command::Cancel { job } => {
            RUNNING.with_borrow_mut(|running| {
                if let Some(job) = running.get_mut(&job) {
                    // Dropping the tag sender also ends a wait for the tag.
                    job.tag = None;
                    if let Some(abort) = &job.abort {
                        abort.abort();
                    }
                }
            });
        }
    }
}

fn register(job: JobId, needs_tag: bool) -> (JobContext, Option<oneshot::Receiver<[u8; 16]>>) {
    let abort = AbortController::new().ok();
    let (sender, receiver) = if needs_tag {
        let (s, r) = oneshot::channel();
        (Some(s), Some(r))
    } else {
        (None, None)
    };
    let signal = abort.as_ref().map(AbortController::signal);
    RUNNING.with_borrow_mut(|running| {
        running.insert(job, Running { abort, tag: sender });
    });
    (JobContext::new(job, signal), receiver)
}

fn finish(context: JobContext, outcome: Result<Event, protocol::JobError>) {
    RUNNING.with_borrow_mut(|running| running.remove(&context.job));
    crate::trace::flush();
    let event = match outcome {
        Ok(event) => event,
        Err(error) => Event::Failed {
            job: context.job,
            error: context.classify(error),
        },
    };
    post(&event, &Attachments::default());
}
