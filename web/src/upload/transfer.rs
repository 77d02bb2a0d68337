//! One upload, from `POST /uploads` to the completed object.
//!
//! The page thread only coordinates: it keeps the part list, presigned URLs
//! (re-signing expired ones), the tag accumulator, and hands parts to workers
//! (encrypt + PUT). When the segments of *all* parts are in, the tag is known and
//! sent to the worker holding the last part, which appends it. Pause cancels the
//! parts in flight (they are sent again on resume: re-encrypting the same bytes
//! at the same offset gives the same ciphertext); cancel also aborts the
//! multipart upload on storage.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use sealdrop_api::{
    AbortUploadRequest, CompleteUploadRequest, CompletedPart, CreateUploadRequest,
    CreateUploadResponse, Mode, PresignedPart, PresignedRequest, SignPartsRequest, Transfer,
};
use zeroize::Zeroize;

use super::plan::{self, Part};
use super::slots::Slot;
use super::{Control, Failure, Offer, State, Upload};
use crate::content;
use crate::fastgcm::{ContentKeys, TagBuilder};
use crate::js;
use crate::pool::{self, EventReceiver, EventSender, Job};
use crate::protocol::{Attachments, Command, Event, FailureKind, JobId, SealJob};
use crate::services::Services;
use crate::tuning;
use crate::ui::format;

/// Times one part may be re-signed after its URL expired.
const MAX_RESIGNS: u32 = 3;

/// Runs the upload; returns the object key.
pub async fn run(
    upload: &Upload,
    services: &Services,
    control: mpsc::UnboundedReceiver<Control>,
    notify: &dyn Fn(),
) -> Result<String, Failure> {
    let size = upload.size();
    let limit = services.me.limits.max_object_size;
    if size > limit {
        return Err(Failure::new(
            format!(
                "The file is {}, larger than the {} this server accepts.",
                format::bytes(size),
                format::bytes(limit)
            ),
            Offer::Nothing,
        ));
    }
    let content_type = upload.file.type_();
    let request = CreateUploadRequest {
        name: upload.name.clone(),
        key: None,
        size,
        content_type: (!content_type.is_empty()).then_some(content_type),
        mode: upload.mode,
        overwrite: upload.overwrite.get(),
    };
    let created = services
        .api
        .create_upload(&request)
        .await
        .map_err(|e| Failure::from_api(&e, &upload.name))?;
    let mut transfer = Uploading::new(upload, services, created, notify).await?;
    match transfer.drive(control).await {
        Ok(()) => transfer.complete().await,
        Err(failure) => {
            transfer.abort().await;
            Err(failure)
        }
    }
}

fn broker_bug(why: impl std::fmt::Display) -> Failure {
    Failure::new(
        format!("The server answered inconsistently: {why}"),
        Offer::Retry,
    )
}

fn internal(why: impl std::fmt::Display) -> Failure {
    Failure::new(format!("Internal error: {why}"), Offer::Retry)
}

/// A part being encrypted and sent by a worker.
struct Flight {
    index: usize,
    job: Job,
    sent: u64,
    tag_sent: bool,
    _slot: Slot,
}

/// What woke the upload up.
enum Wake {
    Event(Box<(Event, Attachments)>),
    Control(Option<Control>),
    SlotReturned,
}

struct Uploading<'a> {
    upload: &'a Upload,
    services: &'a Services,
    notify: &'a dyn Fn(),
    key: String,
    multipart_id: Option<String>,
    parts: Vec<Part>,
    encrypted: bool,
    keys: Option<ContentKeys>,
    tags: Option<TagBuilder>,
    /// Indexes of parts still to send, in order.
    pending: BTreeSet<usize>,
    /// Presigned requests by part number, with their expiry (ms, page clock).
    urls: HashMap<u32, (PresignedRequest, f64)>,
    flights: HashMap<JobId, Flight>,
    etags: BTreeMap<u32, String>,
    resigns: HashMap<u32, u32>,
    /// Stored bytes of finished parts.
    finished_bytes: u64,
    paused: bool,
    events: EventSender,
    receiver: Option<EventReceiver>,
}

impl<'a> Uploading<'a> {
    async fn new(
        upload: &'a Upload,
        services: &'a Services,
        created: CreateUploadResponse,
        notify: &'a dyn Fn(),
    ) -> Result<Uploading<'a>, Failure> {
        let encrypted = upload.mode == Mode::Cse;
        if created.mode != upload.mode {
            return Err(broker_bug("the upload has another encryption mode"));
        }
        let parts = plan::parts(&created, upload.size(), encrypted).map_err(broker_bug)?;
        let keys = match (&created.cse, encrypted) {
            (Some(materials), true) => Some(
                content::for_upload(materials)
                    .await
                    .map_err(|e| Failure::new(e.to_string(), Offer::Retry))?,
            ),
            (None, false) => None,
            _ => return Err(broker_bug("encryption materials do not match the mode")),
        };
        let tags = keys.as_ref().map(|k| k.tag_builder(upload.size()));
        let CreateUploadResponse { key, transfer, .. } = created;
        let expires = js::now_ms() + services.me.limits.presign_ttl_secs as f64 * 1000.0;
        let (multipart_id, urls) = match transfer {
            Transfer::Single { request } => (None, HashMap::from([(1, (request, expires))])),
            Transfer::Multipart {
                upload_id, parts, ..
            } => (
                Some(upload_id),
                parts
                    .into_iter()
                    .map(|p| (p.part_number, (p.request, expires)))
                    .collect(),
            ),
        };
        let (events, receiver) = pool::channel();
        Ok(Uploading {
            upload,
            services,
            notify,
            key,
            multipart_id,
            pending: (0..parts.len()).collect(),
            parts,
            encrypted,
            keys,
            tags,
            urls,
            flights: HashMap::new(),
            etags: BTreeMap::new(),
            resigns: HashMap::new(),
            finished_bytes: 0,
            paused: false,
            events,
            receiver: Some(receiver),
        })
    }

    async fn drive(
        &mut self,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) -> Result<(), Failure> {
        let mut receiver = self
            .receiver
            .take()
            .ok_or_else(|| internal("upload driven twice"))?;
        loop {
            if self.etags.len() == self.parts.len() {
                return Ok(());
            }
            if !self.paused {
                self.launch().await?;
            }
            let wake = {
                let wants_slot = !self.paused
                    && !self.pending.is_empty()
                    && self.flights.len() < tuning::PARTS_IN_FLIGHT;
                let slot = if wants_slot {
                    self.services.slots.returned().map(drop).left_future()
                } else {
                    futures::future::pending().right_future()
                };
                futures::select! {
                    event = receiver.next() => match event {
                        Some(event) => Wake::Event(Box::new(event)),
                        None => return Err(internal("the event channel closed")),
                    },
                    command = control.next() => Wake::Control(command),
                    () = slot.fuse() => Wake::SlotReturned,
                }
            };
            match wake {
                Wake::Event(event) => {
                    let (event, attachments) = *event;
                    self.on_event(event, attachments)?;
                }
                Wake::Control(Some(Control::Pause)) => self.pause(),
                Wake::Control(Some(Control::Resume)) => self.resume(),
                Wake::Control(Some(Control::Cancel) | None) => return Err(Failure::cancelled()),
                Wake::SlotReturned => {}
            }
        }
    }

    /// Starts parts while this upload and the shared budget allow.
    async fn launch(&mut self) -> Result<(), Failure> {
        while self.flights.len() < tuning::PARTS_IN_FLIGHT
            && let Some(&index) = self.pending.first()
        {
            let bytes = self.parts[index].stored_len(self.encrypted);
            let Some(slot) = self.services.slots.try_take(bytes) else {
                return Ok(());
            };
            let request = self.request_for(index).await?;
            let part = self.parts[index];
            let blob = self
                .upload
                .file
                .slice_with_f64_and_f64(part.offset as f64, (part.offset + part.len) as f64)
                .map_err(|e| internal(js::describe(&e)))?;
            let attachments = Attachments {
                blob: Some(blob),
                keys: self.keys.as_ref().map(|k| k.segment.clone()),
                secret: None,
                port: None,
                data: None,
            };
            let encrypted = self.encrypted;
            let pool = self
                .services
                .pool()
                .await
                .map_err(|e| Failure::new(e, Offer::Retry))?;
            let job = pool
                .submit(
                    |job| {
                        Command::Seal(SealJob {
                            job,
                            offset: part.offset,
                            encrypt: encrypted,
                            needs_tag: encrypted && part.is_last,
                            request: Some(request),
                            segment_len: tuning::SEGMENT_LEN,
                        })
                    },
                    &attachments,
                    &self.events,
                )
                .map_err(internal)?;
            self.pending.remove(&index);
            let flight = Flight {
                index,
                job,
                sent: 0,
                tag_sent: false,
                _slot: slot,
            };
            self.flights.insert(flight.job.id(), flight);
            // An empty object has no segments to report: its tag is known at once.
            self.send_tag_when_known()?;
        }
        Ok(())
    }

    /// A presigned request for part `index` with time to spare, signing a batch
    /// of upcoming parts when needed.
    async fn request_for(&mut self, index: usize) -> Result<PresignedRequest, Failure> {
        let number = self.parts[index].number;
        let now = js::now_ms();
        if let Some((request, expires)) = self.urls.get(&number)
            && *expires - now > tuning::PRESIGN_MARGIN_MS
        {
            return Ok(request.clone());
        }
        let Some(upload_id) = self.multipart_id.clone() else {
            return Err(Failure::new(
                "The upload link expired before the file was sent; try again.",
                Offer::Retry,
            ));
        };
        let numbers: Vec<u32> = self
            .pending
            .iter()
            .map(|i| self.parts[*i].number)
            .filter(|n| *n >= number)
            .filter(|n| {
                self.urls
                    .get(n)
                    .is_none_or(|(_, e)| *e - now <= tuning::PRESIGN_MARGIN_MS)
            })
            .take(tuning::SIGN_BATCH)
            .collect();
        let signed = self
            .services
            .api
            .sign_parts(&SignPartsRequest {
                key: self.key.clone(),
                upload_id,
                part_numbers: numbers,
            })
            .await
            .map_err(|e| Failure::from_api(&e, &self.upload.name))?;
        let expires = js::now_ms() + self.services.me.limits.presign_ttl_secs as f64 * 1000.0;
        for PresignedPart {
            part_number,
            request,
        } in signed.parts
        {
            self.urls.insert(part_number, (request, expires));
        }
        self.urls
            .get(&number)
            .map(|(request, _)| request.clone())
            .ok_or_else(|| broker_bug(format!("part {number} was not signed")))
    }

    fn on_event(&mut self, event: Event, attachments: Attachments) -> Result<(), Failure> {
        match event {
            Event::Segment { offset, len, .. } => {
                let (Some(tags), Some(secret)) = (self.tags.as_mut(), attachments.secret) else {
                    return Err(internal("unexpected segment"));
                };
                let t_prime: [u8; 16] = secret[..]
                    .try_into()
                    .map_err(|_| internal("malformed segment result"))?;
                tags.add(offset, len, &t_prime).map_err(internal)?;
                self.send_tag_when_known()?;
            }
            Event::Progress { job, bytes } => {
                if let Some(flight) = self.flights.get_mut(&job) {
                    let stored = self.parts[flight.index].stored_len(self.encrypted);
                    flight.sent = bytes.min(stored);
                    self.report_progress();
                }
            }
            Event::Sent { job, etag } => {
                let Some(flight) = self.flights.remove(&job) else {
                    return Ok(());
                };
                let part = self.parts[flight.index];
                let etag = match (etag, &self.multipart_id) {
                    (Some(etag), _) => etag,
                    (None, None) => String::new(),
                    (None, Some(_)) => {
                        return Err(Failure::new(
                            "Storage did not show the part's ETag to the browser: its CORS configuration must expose the ETag header.",
                            Offer::Nothing,
                        ));
                    }
                };
                self.etags.insert(part.number, etag);
                self.finished_bytes += part.stored_len(self.encrypted);
                self.report_progress();
            }
            Event::Failed { job, error } => {
                let Some(flight) = self.flights.remove(&job) else {
                    return Ok(());
                };
                let number = self.parts[flight.index].number;
                let resigns = self.resigns.entry(number).or_default();
                if error.kind == FailureKind::Expired && *resigns < MAX_RESIGNS {
                    *resigns += 1;
                    self.urls.remove(&number);
                    self.pending.insert(flight.index);
                } else {
                    return Err(Failure::from_job(error));
                }
                self.report_progress();
            }
            Event::Ready | Event::Staged { .. } => {}
        }
        Ok(())
    }

    /// Once every segment is in, the last part's worker gets the tag.
    fn send_tag_when_known(&mut self) -> Result<(), Failure> {
        let Some(tags) = &self.tags else {
            return Ok(());
        };
        if !tags.is_complete() {
            return Ok(());
        }
        let mut tag = tags.finish().map_err(internal)?;
        for flight in self.flights.values_mut() {
            if self.parts[flight.index].is_last && !flight.tag_sent {
                flight.job.send_tag(tag).map_err(internal)?;
                flight.tag_sent = true;
            }
        }
        tag.zeroize();
        Ok(())
    }

    fn report_progress(&self) {
        let in_flight: u64 = self.flights.values().map(|f| f.sent).sum();
        self.upload.set_done(self.finished_bytes + in_flight);
        (self.notify)();
    }

    fn pause(&mut self) {
        self.paused = true;
        // Dropping the jobs cancels them; their parts are sent again on resume.
        for (_, flight) in self.flights.drain() {
            self.pending.insert(flight.index);
        }
        self.upload.set_state(State::Working { paused: true });
        self.report_progress();
    }

    fn resume(&mut self) {
        self.paused = false;
        self.upload.set_state(State::Working { paused: false });
        (self.notify)();
    }

    async fn complete(mut self) -> Result<String, Failure> {
        if let Some(upload_id) = &self.multipart_id {
            let parts = self
                .etags
                .iter()
                .map(|(number, etag)| CompletedPart {
                    part_number: *number,
                    etag: etag.clone(),
                })
                .collect();
            let request = CompleteUploadRequest {
                key: self.key.clone(),
                upload_id: upload_id.clone(),
                parts,
            };
            if let Err(error) = self.services.api.complete_upload(&request).await {
                self.abort().await;
                return Err(Failure::from_api(&error, &self.upload.name));
            }
        }
        Ok(self.key)
    }

    /// Stops the parts in flight and, best effort, the multipart upload (storage
    /// also expires abandoned ones).
    async fn abort(&mut self) {
        self.flights.clear();
        if let Some(upload_id) = &self.multipart_id {
            let request = AbortUploadRequest {
                key: self.key.clone(),
                upload_id: upload_id.clone(),
            };
            if let Err(error) = self.services.api.abort_upload(&request).await {
                web_sys::console::warn_1(
                    &format!("sealdrop: could not abort an upload: {error}").into(),
                );
            }
        }
    }
}
