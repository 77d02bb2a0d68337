//! The context a worker job runs in: its id, cancellation, and reporting.

use std::cell::Cell;
use std::rc::Rc;

use web_sys::AbortSignal;
use zeroize::Zeroizing;

use super::post;
use crate::fastgcm::Block;
use crate::js;
use crate::protocol::{Attachments, Event, FailureKind, JobError, JobId};

/// Progress is reported at most this often (the page redraws on each report).
const PROGRESS_INTERVAL_MS: f64 = 100.0;

/// Cheap to clone: request callbacks hold a clone.
#[derive(Clone)]
pub struct JobContext {
    pub job: JobId,
    signal: Option<AbortSignal>,
    last_progress: Rc<Cell<f64>>,
}

impl JobContext {
    pub fn new(job: JobId, signal: Option<AbortSignal>) -> Self {
        JobContext {
            job,
            signal,
            last_progress: Rc::new(Cell::new(f64::NEG_INFINITY)),
        }
    }

    /// Aborts in-flight requests and backoff sleeps when the page cancels.
    pub fn signal(&self) -> Option<&AbortSignal> {
        self.signal.as_ref()
    }

    pub fn is_cancelled(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }

    /// Stops the job between steps once the page cancelled it.
    pub fn check(&self) -> Result<(), JobError> {
        if self.is_cancelled() {
            Err(cancelled())
        } else {
            Ok(())
        }
    }

    /// Any failure after cancellation is the cancellation.
    pub fn classify(&self, error: JobError) -> JobError {
        if self.is_cancelled() {
            cancelled()
        } else {
            error
        }
    }

    /// Reports transfer progress (throttled unless `force`).
    pub fn progress(&self, bytes: u64, force: bool) {
        let now = js::now_ms();
        if force || now - self.last_progress.get() >= PROGRESS_INTERVAL_MS {
            self.last_progress.set(now);
            post(
                &Event::Progress {
                    job: self.job,
                    bytes,
                },
                &Attachments::default(),
            );
        }
    }

    /// Reports an encrypted segment's `T'` (an integrity secret, see `fastgcm`).
    pub fn segment(&self, offset: u64, len: u64, t_prime: &Block) {
        let attachments = Attachments {
            secret: Some(Zeroizing::new(t_prime.to_vec())),
            ..Attachments::default()
        };
        post(
            &Event::Segment {
                job: self.job,
                offset,
                len,
            },
            &attachments,
        );
    }
}

pub fn cancelled() -> JobError {
    JobError::new(FailureKind::Cancelled, "Cancelled")
}

/// An unexpected browser error.
pub fn internal(context: &str, error: &wasm_bindgen::JsValue) -> JobError {
    JobError::new(
        FailureKind::Internal,
        format!("{context}: {}", js::describe(error)),
    )
}
