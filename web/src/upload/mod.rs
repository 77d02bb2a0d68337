//! Uploads: the queue the UI shows, and per file the state people see.
//!
//! Each upload runs [`transfer::run`] as its own task; the queue starts at most
//! [`tuning::ACTIVE_UPLOADS`] at once and they share the global budget of parts
//! in flight ([`slots`]). Retrying a failed upload starts over with a new upload
//! (new data key and message ID): a key is never used for other bytes.

pub mod progress;
pub mod slots;
mod transfer;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures::channel::mpsc;
use sealdrop_api::Mode;
use web_sys::File;

use crate::api::ApiError;
use crate::js;
use crate::protocol::{FailureKind, JobError};
use crate::services::Services;
use crate::tuning;
use progress::Meter;
use sealdrop_transfer::FailureKind as TransferKind;

/// Where an upload is in its life.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Waiting for its turn.
    Queued,
    /// Being encrypted and sent (or paused).
    Working {
        /// Paused by the user.
        paused: bool,
    },
    /// Stored under this object key.
    Done {
        /// The object key.
        key: String,
    },
    /// Stopped.
    Failed(Failure),
}

/// Why an upload stopped, and what the user can do about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// For people.
    pub message: String,
    /// The way forward offered next to the message.
    pub offer: Offer,
    /// The user cancelled (not an error to announce).
    pub cancelled: bool,
}

/// What a failed upload offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Try again (a new upload).
    Retry,
    /// The name exists: replace the object.
    Overwrite,
    /// Nothing sensible (e.g. the file is too large).
    Nothing,
}

impl Failure {
    fn new(message: impl Into<String>, offer: Offer) -> Failure {
        Failure {
            message: message.into(),
            offer,
            cancelled: false,
        }
    }

    fn cancelled() -> Failure {
        Failure {
            message: "Cancelled".into(),
            offer: Offer::Retry,
            cancelled: true,
        }
    }

    fn from_api(error: &ApiError, name: &str) -> Failure {
        match error.kind {
            TransferKind::Conflict => Failure::new(
                format!(
                    "“{name}” already exists. Overwrite it, or rename the file and upload it again."
                ),
                Offer::Overwrite,
            ),
            TransferKind::TooLarge | TransferKind::Forbidden | TransferKind::Invalid => {
                Failure::new(error.to_string(), Offer::Nothing)
            }
            _ => Failure::new(error.to_string(), Offer::Retry),
        }
    }

    fn from_job(error: JobError) -> Failure {
        match error.kind {
            FailureKind::Cancelled => Failure::cancelled(),
            FailureKind::ReadFile | FailureKind::Transfer(TransferKind::SourceChanged) => {
                Failure::new(error.message, Offer::Nothing)
            }
            _ => Failure::new(error.message, Offer::Retry),
        }
    }
}

/// A user action on a running upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Stop sending; keep what was sent.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Stop and discard.
    Cancel,
}

/// One file being uploaded.
pub struct Upload {
    /// Stable id within the queue.
    pub id: u32,
    /// The file (read in slices, never whole).
    pub file: File,
    /// The object name.
    pub name: String,
    /// Client- or server-side encryption.
    pub mode: Mode,
    state: RefCell<State>,
    done: Cell<u64>,
    meter: RefCell<Meter>,
    overwrite: Cell<bool>,
    control: RefCell<Option<mpsc::UnboundedSender<Control>>>,
}

impl Upload {
    /// Current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.file.size() as u64
    }

    /// Bytes sent so far.
    pub fn done(&self) -> u64 {
        self.done.get()
    }

    /// Current speed in bytes per second.
    pub fn speed(&self) -> Option<f64> {
        self.meter.borrow().bytes_per_sec()
    }

    /// Seconds left at the current speed.
    pub fn seconds_left(&self) -> Option<f64> {
        self.meter.borrow().seconds_left(self.size())
    }

    fn set_state(&self, state: State) {
        if matches!(state, State::Working { paused: true } | State::Queued) {
            self.meter.borrow_mut().reset();
        }
        *self.state.borrow_mut() = state;
    }

    fn set_done(&self, done: u64) {
        let done = done.min(self.size());
        self.done.set(done);
        self.meter.borrow_mut().record(js::now_ms(), done);
    }

    fn send(&self, control: Control) {
        if let Some(sender) = self.control.borrow().as_ref() {
            let _ = sender.unbounded_send(control);
        }
    }
}

/// What changed, for the UI.
pub enum Change {
    /// Redraw this upload's row.
    Row(Rc<Upload>),
    /// An upload finished: the object list is out of date.
    Stored,
    /// Announce this failure (the visible error message).
    Error(String),
}

/// The session's uploads.
pub struct UploadQueue {
    services: Rc<Services>,
    uploads: RefCell<Vec<Rc<Upload>>>,
    next_id: Cell<u32>,
    active: Cell<usize>,
    listener: Box<dyn Fn(Change)>,
}

impl UploadQueue {
    /// An empty queue reporting changes to `listener`.
    pub fn new(services: Rc<Services>, listener: Box<dyn Fn(Change)>) -> Rc<UploadQueue> {
        Rc::new(UploadQueue {
            services,
            uploads: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
            active: Cell::new(0),
            listener,
        })
    }

    /// The uploads, oldest first.
    pub fn uploads(&self) -> Vec<Rc<Upload>> {
        self.uploads.borrow().clone()
    }

    /// The upload with this id.
    pub fn get(&self, id: u32) -> Option<Rc<Upload>> {
        self.uploads.borrow().iter().find(|u| u.id == id).cloned()
    }

    /// Queues files; they start as soon as there is room.
    pub fn add(self: &Rc<Self>, files: Vec<File>, mode: Mode) {
        for file in files {
            let id = self.next_id.get();
            self.next_id.set(id + 1);
            let upload = Rc::new(Upload {
                id,
                name: file.name(),
                file,
                mode,
                state: RefCell::new(State::Queued),
                done: Cell::new(0),
                meter: RefCell::new(Meter::default()),
                overwrite: Cell::new(false),
                control: RefCell::new(None),
            });
            self.uploads.borrow_mut().push(upload.clone());
            (self.listener)(Change::Row(upload));
        }
        self.pump();
    }

    /// Pauses a running upload.
    pub fn pause(&self, id: u32) {
        if let Some(upload) = self.get(id) {
            upload.send(Control::Pause);
        }
    }

    /// Resumes a paused upload.
    pub fn resume(&self, id: u32) {
        if let Some(upload) = self.get(id) {
            upload.send(Control::Resume);
        }
    }

    /// Cancels a queued or running upload.
    pub fn cancel(&self, id: u32) {
        let Some(upload) = self.get(id) else { return };
        if upload.state() == State::Queued {
            upload.set_state(State::Failed(Failure::cancelled()));
            (self.listener)(Change::Row(upload));
        } else {
            upload.send(Control::Cancel);
        }
    }

    /// Starts a failed upload again, replacing an existing object if `overwrite`.
    pub fn restart(self: &Rc<Self>, id: u32, overwrite: bool) {
        let Some(upload) = self.get(id) else { return };
        if !matches!(upload.state(), State::Failed(_)) {
            return;
        }
        upload.overwrite.set(overwrite || upload.overwrite.get());
        upload.done.set(0);
        upload.set_state(State::Queued);
        (self.listener)(Change::Row(upload));
        self.pump();
    }

    /// Removes a finished upload from the list.
    pub fn dismiss(&self, id: u32) {
        self.uploads
            .borrow_mut()
            .retain(|u| u.id != id || matches!(u.state(), State::Queued | State::Working { .. }));
    }

    /// Cancels everything (sign-out).
    pub fn cancel_all(&self) {
        for upload in self.uploads() {
            self.cancel(upload.id);
        }
    }

    fn pump(self: &Rc<Self>) {
        while self.active.get() < tuning::ACTIVE_UPLOADS {
            let next = self
                .uploads
                .borrow()
                .iter()
                .find(|u| u.state() == State::Queued)
                .cloned();
            let Some(upload) = next else { return };
            self.active.set(self.active.get() + 1);
            upload.set_state(State::Working { paused: false });
            (self.listener)(Change::Row(upload.clone()));
            let (sender, receiver) = mpsc::unbounded();
            *upload.control.borrow_mut() = Some(sender);
            let queue = Rc::downgrade(self);
            let services = self.services.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let notify = {
                    let queue = queue.clone();
                    let upload = upload.clone();
                    move || notify_row(&queue, &upload)
                };
                let outcome = transfer::run(&upload, &services, receiver, &notify).await;
                upload.control.borrow_mut().take();
                finish(&queue, &upload, outcome);
            });
        }
    }
}

fn notify_row(queue: &Weak<UploadQueue>, upload: &Rc<Upload>) {
    if let Some(queue) = queue.upgrade() {
        (queue.listener)(Change::Row(upload.clone()));
    }
}

fn finish(queue: &Weak<UploadQueue>, upload: &Rc<Upload>, outcome: Result<String, Failure>) {
    let Some(queue) = queue.upgrade() else { return };
    queue.active.set(queue.active.get().saturating_sub(1));
    match outcome {
        Ok(key) => {
            upload.set_done(upload.size());
            upload.set_state(State::Done { key });
            (queue.listener)(Change::Stored);
        }
        Err(failure) => {
            if !failure.cancelled {
                (queue.listener)(Change::Error(format!(
                    "{}: {}",
                    upload.name, failure.message
                )));
            }
            upload.set_state(State::Failed(failure));
        }
    }
    (queue.listener)(Change::Row(upload.clone()));
    queue.pump();
}
