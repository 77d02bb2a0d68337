//! One upload, from `POST /uploads` to the completed object.
//!
//! The page thread only coordinates: it keeps the plan, presigned URLs and the
//! part ledger (all from the transfer core), the tag accumulator and the
//! parts' fingerprints, and hands parts to workers (encrypt + PUT). When the
//! segments of *all* parts are in, the tag is known and sent to the worker
//! holding the last part, which appends it.
//!
//! Pause cancels the parts in flight; on resume they are encrypted again from
//! the file. The core's invariant (a part is only ever sent as the same bytes)
//! holds because the worker compares each re-encrypted segment's GHASH share
//! with the one recorded the first time ([`Fingerprints`]) before it sends the
//! part: a file that changed meanwhile fails the upload instead of putting a
//! second plaintext under the same keystream. Cancel also aborts the multipart
//! upload on storage.

use std::collections::{BTreeSet, HashMap};

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use sealdrop_api::{
    AbortUploadRequest, CreateUploadRequest, CreateUploadResponse, PresignedRequest,
    SignPartsRequest, Transfer, UploadEncryption, UploadTarget,
};
use sealdrop_transfer::ledger::MAX_RESIGNS;
use sealdrop_transfer::{
    FailureKind as TransferKind, Fingerprints, PartLedger, PartUrls, UploadPlan,
};
use zeroize::Zeroize;

use super::slots::Slot;
use super::{Control, Failure, Offer, State, Upload};
use crate::content;
use crate::fastgcm::{ContentKeys, TagBuilder};
use crate::js;
use crate::pool::{self, EventReceiver, EventSender, Job};
use crate::protocol::{Attachments, Command, Destination, Event, FailureKind, JobId, SealJob};
use crate::services::Services;
use crate::tuning;
use crate::ui::format;
use sealdrop_transfer::calls;

/// Runs the upload; returns the object key.
pub async fn run(
    upload: &Upload,
    services: &Services,
    control: mpsc::UnboundedReceiver<Control>,
    notify: &dyn Fn(),
) -> Result<String, Failure> {
    let size = upload.size();
    let limit = services.limits.max_object_size;
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
        target: UploadTarget::Name(upload.name.clone()),
        size,
        content_type: (!content_type.is_empty()).then_some(content_type),
        mode: upload.mode,
        overwrite: upload.overwrite.get(),
    };
    let created = services
        .api
        .call(calls::create_upload(&request))
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
    number: u32,
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
    plan: UploadPlan,
    keys: Option<ContentKeys>,
    tags: Option<TagBuilder>,
    fingerprints: Fingerprints,
    /// Parts still to send, in order.
    pending: BTreeSet<u32>,
    urls: PartUrls,
    ledger: PartLedger,
    flights: HashMap<JobId, Flight>,
    resigns: HashMap<u32, u32>,
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
        let plan = UploadPlan::check(upload.size(), upload.mode, &created).map_err(broker_bug)?;
        let keys = match &created.encryption {
            UploadEncryption::Cse(materials) => Some(
                content::for_upload(materials)
                    .await
                    .map_err(|e| Failure::new(e.to_string(), Offer::Retry))?,
            ),
            UploadEncryption::Sse(_) => None,
        };
        let tags = keys.as_ref().map(|k| k.tag_builder(upload.size()));
        let CreateUploadResponse { key, transfer, .. } = created;
        let mut urls = PartUrls::new(plan.part_count());
        let multipart_id = match transfer {
            Transfer::Single { request } => {
                urls.insert(
                    vec![sealdrop_api::PresignedPart {
                        part_number: 1,
                        request,
                    }],
                    js::now_ms(),
                    services.presign_ttl_ms(),
                    tuning::PRESIGN_MARGIN_MS,
                )
                .map_err(broker_bug)?;
                None
            }
            Transfer::Multipart {
                upload_id, parts, ..
            } => {
                urls.insert(
                    parts,
                    js::now_ms(),
                    services.presign_ttl_ms(),
                    tuning::PRESIGN_MARGIN_MS,
                )
                .map_err(broker_bug)?;
                Some(upload_id)
            }
        };
        let (events, receiver) = pool::channel();
        Ok(Uploading {
            upload,
            services,
            notify,
            key,
            multipart_id,
            pending: (1..=plan.part_count()).collect(),
            ledger: PartLedger::new(&plan),
            plan,
            keys,
            tags,
            fingerprints: Fingerprints::new(),
            urls,
            flights: HashMap::new(),
            resigns: HashMap::new(),
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
            if self.ledger.is_complete() {
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
            && let Some(&number) = self.pending.first()
        {
            let part = self.plan.part(number).map_err(broker_bug)?;
            let Some(slot) = self.services.slots.try_take(part.stored_len) else {
                return Ok(());
            };
            let request = self.request_for(number).await?;
            let blob = self
                .upload
                .file
                .slice_with_f64_and_f64(part.offset as f64, (part.offset + part.len) as f64)
                .map_err(|e| internal(js::describe(&e)))?;
            // A part encrypted before (paused, or its URL expired) must come
            // out the same: the worker compares what it is told was there.
            let expected = self.fingerprints.expected(number);
            let attachments = Attachments {
                blob: Some(blob),
                keys: self.keys.as_ref().map(|k| k.segment.clone()),
                secret: (!expected.is_empty()).then_some(expected),
                ..Attachments::default()
            };
            let encrypted = self.plan.is_encrypted();
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
                            part_number: number,
                            offset: part.offset,
                            encrypt: encrypted,
                            needs_tag: encrypted && part.is_last,
                            destination: Destination::Storage(request),
                            segment_len: tuning::SEGMENT_LEN,
                        })
                    },
                    &attachments,
                    &self.events,
                )
                .map_err(internal)?;
            self.pending.remove(&number);
            let flight = Flight {
                number,
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

    /// A presigned request for part `number` with time to spare, signing a
    /// batch of upcoming parts when needed.
    async fn request_for(&mut self, number: u32) -> Result<PresignedRequest, Failure> {
        if let Some(request) = self.urls.take(number, js::now_ms()) {
            return Ok(request);
        }
        let Some(upload_id) = self.multipart_id.clone() else {
            return Err(Failure::new(
                "The upload link expired before the file was sent; try again.",
                Offer::Retry,
            ));
        };
        let numbers = self.urls.to_sign(
            number,
            self.pending.iter().copied(),
            js::now_ms(),
            tuning::SIGN_BATCH,
        );
        let signed = self
            .services
            .api
            .call(calls::sign_parts(&SignPartsRequest {
                key: self.key.clone(),
                upload_id,
                part_numbers: numbers,
            }))
            .await
            .map_err(|e| Failure::from_api(&e, &self.upload.name))?;
        self.urls
            .insert(
                signed.parts,
                js::now_ms(),
                self.services.presign_ttl_ms(),
                tuning::PRESIGN_MARGIN_MS,
            )
            .map_err(broker_bug)?;
        self.urls
            .take(number, js::now_ms())
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
                let part = self
                    .plan
                    .part_at(offset)
                    .ok_or_else(|| internal("a segment outside the file"))?;
                let segment = u32::try_from((offset - part.offset) / tuning::SEGMENT_LEN)
                    .map_err(|_| internal("a segment outside its part"))?;
                self.fingerprints
                    .check_or_record(part.number, segment, &t_prime)
                    .map_err(|changed| Failure::new(changed.to_string(), Offer::Nothing))?;
                tags.add(offset, len, &t_prime).map_err(internal)?;
                self.send_tag_when_known()?;
            }
            Event::Progress { job, bytes } => {
                if let Some(flight) = self.flights.get_mut(&job) {
                    let stored = self.plan.part(flight.number).map_or(0, |p| p.stored_len);
                    flight.sent = bytes.min(stored);
                    self.report_progress();
                }
            }
            Event::Sent { job, etag } => {
                let Some(flight) = self.flights.remove(&job) else {
                    return Ok(());
                };
                self.ledger
                    .record(flight.number, etag)
                    .map_err(|e| Failure::new(e.to_string(), Offer::Nothing))?;
                self.report_progress();
            }
            Event::Failed { job, error } => {
                let Some(flight) = self.flights.remove(&job) else {
                    return Ok(());
                };
                let number = flight.number;
                let resigns = self.resigns.entry(number).or_default();
                if error.kind == FailureKind::Transfer(TransferKind::Expired)
                    && *resigns < MAX_RESIGNS
                {
                    *resigns += 1;
                    self.urls.forget(number);
                    self.pending.insert(number);
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
        let last = self.plan.part_count();
        for flight in self.flights.values_mut() {
            if flight.number == last && !flight.tag_sent {
                flight.job.send_tag(tag).map_err(internal)?;
                flight.tag_sent = true;
            }
        }
        tag.zeroize();
        Ok(())
    }

    fn report_progress(&self) {
        let in_flight: u64 = self.flights.values().map(|f| f.sent).sum();
        self.upload
            .set_done(self.ledger.stored_bytes(&self.plan) + in_flight);
        (self.notify)();
    }

    fn pause(&mut self) {
        self.paused = true;
        // Dropping the jobs cancels them; their parts are sent again on resume.
        for (_, flight) in self.flights.drain() {
            self.pending.insert(flight.number);
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
            let request = self
                .ledger
                .completion(&self.key, upload_id)
                .map_err(internal)?;
            if let Err(error) = self
                .services
                .api
                .call(calls::complete_upload(&request))
                .await
            {
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
            if let Err(error) = self.services.api.call(calls::abort_upload(&request)).await {
                web_sys::console::warn_1(
                    &format!("sealdrop: could not abort an upload: {error}").into(),
                );
            }
        }
    }
}
