//! The page's pool of workers (see `worker/`): starts them with the app's own
//! wasm module, spreads jobs over them, and routes each job's events to the
//! [`Job`] that submitted it. Dropping a [`Job`] before it finished cancels it in
//! its worker, so abandoning an upload or download never leaves work running.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use js_sys::{Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::js;
use crate::protocol::{self, Attachments, Command, Event, JobId};

/// The worker script (a static file next to `index.html`).
const WORKER_SCRIPT: &str = "worker.js";
/// How long workers may take to load the app module.
const START_TIMEOUT_MS: u32 = 30_000;

/// Where a job's events go. Several jobs may share one (an upload's parts).
pub type EventSender = mpsc::UnboundedSender<(Event, Attachments)>;
/// The receiving end of an [`EventSender`].
pub type EventReceiver = mpsc::UnboundedReceiver<(Event, Attachments)>;

/// A channel for job events.
pub fn channel() -> (EventSender, EventReceiver) {
    mpsc::unbounded()
}

struct Route {
    lane: usize,
    events: EventSender,
}

/// Job routes and per-worker load, shared with the workers' message handlers.
#[derive(Default)]
struct Routes {
    jobs: RefCell<HashMap<JobId, Route>>,
    load: RefCell<Vec<u32>>,
}

impl Routes {
    /// Forgets a job; `true` if it was still running.
    fn end(&self, job: JobId) -> bool {
        let Some(route) = self.jobs.borrow_mut().remove(&job) else {
            return false;
        };
        if let Some(load) = self.load.borrow_mut().get_mut(route.lane) {
            *load = load.saturating_sub(1);
        }
        true
    }
}

struct Lane {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

/// A set of started workers.
pub struct WorkerPool {
    lanes: Vec<Lane>,
    routes: Rc<Routes>,
    next_job: Cell<JobId>,
}

/// The URL of the app's JS glue module, which workers import. `boot.js` was
/// loaded by a `<script id="sealdrop-boot" data-glue=…>` (see `Trunk.toml`).
fn glue_url() -> Result<String, String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let boot = document
        .get_element_by_id("sealdrop-boot")
        .ok_or("the boot script element is missing")?;
    let glue = boot
        .get_attribute("data-glue")
        .ok_or("the boot script names no module")?;
    let base = document.base_uri().ok().flatten().unwrap_or_default();
    web_sys::Url::new_with_base(&glue, &base)
        .map(|url| url.href())
        .map_err(|e| js::describe(&e))
}

impl WorkerPool {
    /// Starts `size` workers and waits until all of them are ready.
    pub async fn start(size: usize) -> Result<Rc<WorkerPool>, String> {
        let glue = glue_url()?;
        let routes = Rc::new(Routes::default());
        let mut lanes = Vec::with_capacity(size);
        let mut ready = Vec::with_capacity(size);
        for index in 0..size {
            let (lane, started) = start_lane(index, &glue, &routes)?;
            routes.load.borrow_mut().push(0);
            lanes.push(lane);
            ready.push(started);
        }
        let all_ready = futures::future::try_join_all(ready.into_iter().map(|started| async {
            started
                .await
                .unwrap_or_else(|_| Err("a worker stopped while starting".into()))
        }));
        let timeout = js::sleep(START_TIMEOUT_MS, None);
        futures::pin_mut!(all_ready, timeout);
        match futures::future::select(all_ready, timeout).await {
            futures::future::Either::Left((result, _)) => result?,
            futures::future::Either::Right(_) => {
                return Err("the workers did not start in time".into());
            }
        };
        Ok(Rc::new(WorkerPool {
            lanes,
            routes,
            next_job: Cell::new(1),
        }))
    }

    /// Number of workers.
    pub fn size(&self) -> usize {
        self.lanes.len()
    }

    /// Submits a job to the least loaded worker; its events go to `events`.
    /// `make` builds the command for the assigned job id.
    pub fn submit(
        self: &Rc<Self>,
        make: impl FnOnce(JobId) -> Command,
        attachments: &Attachments,
        events: &EventSender,
    ) -> Result<Job, String> {
        self.submit_avoiding(None, make, attachments, events)
    }

    /// Like [`WorkerPool::submit`], on another worker than `partner`'s (for a
    /// helper that must run in parallel); `None` if the pool has one worker.
    pub fn submit_beside(
        self: &Rc<Self>,
        partner: &Job,
        make: impl FnOnce(JobId) -> Command,
        attachments: &Attachments,
        events: &EventSender,
    ) -> Result<Option<Job>, String> {
        if self.lanes.len() < 2 {
            return Ok(None);
        }
        self.submit_avoiding(Some(partner.lane), make, attachments, events)
            .map(Some)
    }

    fn submit_avoiding(
        self: &Rc<Self>,
        avoid: Option<usize>,
        make: impl FnOnce(JobId) -> Command,
        attachments: &Attachments,
        events: &EventSender,
    ) -> Result<Job, String> {
        let id = self.next_job.get();
        self.next_job.set(id.wrapping_add(1).max(1));
        let lane = {
            let load = self.routes.load.borrow();
            (0..self.lanes.len())
                .filter(|i| Some(*i) != avoid)
                .min_by_key(|i| load[*i])
                .unwrap_or(0)
        };
        let route = Route {
            lane,
            events: events.clone(),
        };
        self.routes.jobs.borrow_mut().insert(id, route);
        if let Some(load) = self.routes.load.borrow_mut().get_mut(lane) {
            *load += 1;
        }
        let job = Job {
            id,
            lane,
            pool: self.clone(),
        };
        job.post(&make(id), attachments)?;
        Ok(job)
    }

    fn post(
        &self,
        lane: usize,
        command: &Command,
        attachments: &Attachments,
    ) -> Result<(), String> {
        let message = protocol::encode(command, attachments).map_err(|e| js::describe(&e))?;
        let worker = &self.lanes.get(lane).ok_or("no such worker")?.worker;
        let posted = worker
            .post_message_with_transfer(&message, &attachments.transfer_list())
            .map_err(|e| js::describe(&e));
        protocol::wipe(&message);
        posted
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        for lane in &self.lanes {
            lane.worker.terminate();
        }
    }
}

type Started = oneshot::Receiver<Result<(), String>>;

fn start_lane(index: usize, glue: &str, routes: &Rc<Routes>) -> Result<(Lane, Started), String> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    options.set_name(&format!("sealdrop-{index}"));
    let worker = Worker::new_with_options(WORKER_SCRIPT, &options).map_err(|e| js::describe(&e))?;

    let (ready_sender, ready) = oneshot::channel();
    let ready_sender = Rc::new(RefCell::new(Some(ready_sender)));
    let starting = ready_sender.clone();
    let routes = routes.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        if let Some(failure) = boot_failure(&data) {
            if let Some(sender) = starting.borrow_mut().take() {
                let _ = sender.send(Err(failure));
            }
            return;
        }
        match protocol::decode::<Event>(&data) {
            Ok((Event::Ready, _)) => {
                if let Some(sender) = starting.borrow_mut().take() {
                    let _ = sender.send(Ok(()));
                }
            }
            Ok((event, attachments)) => deliver(&routes, event, attachments),
            Err(why) => {
                web_sys::console::error_1(&format!("sealdrop: bad worker message: {why}").into())
            }
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    let failing = ready_sender;
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let message = Reflect::get(&event, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| "the worker script could not be loaded".into());
        if let Some(sender) = failing.borrow_mut().take() {
            let _ = sender.send(Err(message));
        }
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    let init = Object::new();
    let set = |key: &str, value: &JsValue| Reflect::set(&init, &key.into(), value).map(|_| ());
    set("glue", &glue.into()).map_err(|e| js::describe(&e))?;
    // The compiled module is shared, so workers do not compile it again.
    set("module", &wasm_bindgen::module()).map_err(|e| js::describe(&e))?;
    worker.post_message(&init).map_err(|e| js::describe(&e))?;

    let lane = Lane {
        worker,
        _on_message: on_message,
        _on_error: on_error,
    };
    Ok((lane, ready))
}

/// `worker.js` reports module loading failures as `{ bootFailed: message }`.
fn boot_failure(data: &JsValue) -> Option<String> {
    Reflect::get(data, &"bootFailed".into()).ok()?.as_string()
}

fn deliver(routes: &Routes, event: Event, attachments: Attachments) {
    let Some(job) = event.job() else { return };
    let is_final = event.is_final();
    if let Some(route) = routes.jobs.borrow().get(&job) {
        let _ = route.events.unbounded_send((event, attachments));
    }
    if is_final {
        routes.end(job);
    }
}

/// A submitted job, to send it commands; dropping it cancels the job if it
/// is still running.
pub struct Job {
    id: JobId,
    lane: usize,
    pool: Rc<WorkerPool>,
}

impl Job {
    /// This job's id (as carried by its events).
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Sends the object's tag to a job waiting for it.
    pub fn send_tag(&self, tag: [u8; 16]) -> Result<(), String> {
        self.post(&Command::Tag { job: self.id, tag }, &Attachments::default())
    }

    fn post(&self, command: &Command, attachments: &Attachments) -> Result<(), String> {
        self.pool.post(self.lane, command, attachments)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.pool.routes.end(self.id) {
            let _ = self.post(&Command::Cancel { job: self.id }, &Attachments::default());
        }
    }
}
