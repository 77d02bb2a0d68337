//! The upload card: encryption choice, drop zone / file picker, and one row per
//! upload with progress, speed, time left, state and actions.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use sealdrop_api::Mode;
use wasm_bindgen::JsCast;
use web_sys::{
    DragEvent, Element, File, FileList, HtmlInputElement, HtmlProgressElement, KeyboardEvent,
};

use super::dom::{self, El};
use super::format;
use super::shell::Shell;
use crate::upload::{Offer, State, Upload, UploadQueue};

/// The upload card.
pub struct Uploader {
    /// The card.
    pub root: Element,
    list: Element,
    zone: web_sys::HtmlElement,
    mode_cse: HtmlInputElement,
    rows: RefCell<HashMap<u32, Row>>,
    queue: RefCell<Weak<UploadQueue>>,
    shell: Rc<Shell>,
}

struct Row {
    item: Element,
    status: Element,
    progress: HtmlProgressElement,
    meta: Element,
    error: Element,
    actions: Element,
    shown: RefCell<Option<State>>,
    announced_quarter: Cell<u64>,
}

impl Uploader {
    /// Builds the card; [`Uploader::attach`] connects it to a queue.
    pub fn new(shell: Rc<Shell>) -> Rc<Uploader> {
        let mode_cse: HtmlInputElement = El::new("input")
            .attr("type", "radio")
            .attr("name", "mode")
            .attr("value", "cse")
            .attr("id", "mode-cse")
            .attr("checked", "")
            .attr("aria-describedby", "mode-cse-desc")
            .testid("mode-cse")
            .cast();
        let mode_sse = El::new("input")
            .attr("type", "radio")
            .attr("name", "mode")
            .attr("value", "sse")
            .attr("id", "mode-sse")
            .attr("aria-describedby", "mode-sse-desc")
            .testid("mode-sse");
        let modes = El::new("fieldset")
            .class("modes")
            .child(El::new("legend").text("Encryption"))
            .child(mode_option(
                &mode_cse,
                "mode-cse",
                "Client-side encryption",
                Some("Recommended"),
                "End-to-end: files are encrypted in this browser; storage sees only ciphertext.",
            ))
            .child(mode_option(
                mode_sse.as_ref(),
                "mode-sse",
                "Server-side encryption (SSE-KMS)",
                None,
                "Files travel over TLS and storage encrypts them at rest with the KMS key.",
            ));
        let input: HtmlInputElement = El::new("input")
            .attr("type", "file")
            .attr("multiple", "")
            .attr("id", "file-input")
            .attr("tabindex", "-1")
            .class("visually-hidden")
            .testid("file-input")
            .cast();
        let zone = El::new("div")
            .class("dropzone")
            .attr("role", "button")
            .attr("tabindex", "0")
            .attr("aria-describedby", "drop-hint")
            .testid("dropzone")
            .child(
                El::new("span")
                    .class("drop-icon")
                    .attr("aria-hidden", "true"),
            )
            .child(
                El::new("span")
                    .class("drop-title")
                    .text("Drop files here or choose files"),
            )
            .child(
                El::new("span")
                    .class("drop-hint")
                    .attr("id", "drop-hint")
                    .text("Several at once, any size. Press Enter to open the file picker."),
            )
            .build();
        let list = El::new("ul")
            .class("uploads")
            .attr("aria-label", "Uploads")
            .build();
        let root = El::new("section")
            .class("card")
            .attr("aria-labelledby", "upload-title")
            .child(El::new("h2").attr("id", "upload-title").text("Upload"))
            .child(modes)
            .child(
                El::new("label")
                    .attr("for", "file-input")
                    .class("visually-hidden")
                    .text("Choose files to upload"),
            )
            .child(&input)
            .child(&zone)
            .child(&list)
            .build();
        let view = Rc::new(Uploader {
            root,
            list,
            zone: zone.clone().unchecked_into(),
            mode_cse,
            rows: RefCell::new(HashMap::new()),
            queue: RefCell::new(Weak::new()),
            shell,
        });
        view.wire(&zone, &input);
        view
    }

    /// Connects the card to the session's queue.
    pub fn attach(&self, queue: &Rc<UploadQueue>) {
        *self.queue.borrow_mut() = Rc::downgrade(queue);
    }

    fn queue(&self) -> Option<Rc<UploadQueue>> {
        self.queue.borrow().upgrade()
    }

    fn mode(&self) -> Mode {
        if self.mode_cse.checked() {
            Mode::Cse
        } else {
            Mode::Sse
        }
    }

    fn add_files(&self, files: Option<FileList>) {
        let Some(files) = files else { return };
        let files: Vec<File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        if let (Some(queue), false) = (self.queue(), files.is_empty()) {
            queue.add(files, self.mode());
        }
    }

    fn wire(self: &Rc<Self>, zone: &Element, input: &HtmlInputElement) {
        let view = Rc::downgrade(self);
        let picker = input.clone();
        dom::listen(input, "change", move |_| {
            if let Some(view) = view.upgrade() {
                view.add_files(picker.files());
                // Choosing the same file again must fire `change` again.
                picker.set_value("");
            }
        });
        let picker = input.clone();
        dom::listen(zone, "click", move |_| picker.click());
        let picker = input.clone();
        dom::listen(zone, "keydown", move |event| {
            if let Some(key) = event.dyn_ref::<KeyboardEvent>().map(KeyboardEvent::key)
                && (key == "Enter" || key == " ")
            {
                event.prevent_default();
                picker.click();
            }
        });
        for name in ["dragenter", "dragover"] {
            let target = zone.clone();
            dom::listen(zone, name, move |event| {
                event.prevent_default();
                let _ = target.class_list().add_1("dragging");
            });
        }
        let target = zone.clone();
        dom::listen(zone, "dragleave", move |_| {
            let _ = target.class_list().remove_1("dragging");
        });
        let view = Rc::downgrade(self);
        let target = zone.clone();
        dom::listen(zone, "drop", move |event| {
            event.prevent_default();
            let _ = target.class_list().remove_1("dragging");
            let files = event
                .dyn_ref::<DragEvent>()
                .and_then(DragEvent::data_transfer)
                .and_then(|t| t.files());
            if let Some(view) = view.upgrade() {
                view.add_files(files);
            }
        });
        let view = Rc::downgrade(self);
        dom::listen(&self.list, "click", move |event| {
            let (Some(button), Some(view)) =
                (dom::closest(&event, "button[data-action]"), view.upgrade())
            else {
                return;
            };
            let id = dom::closest(&event, "li[data-id]")
                .and_then(|row| dom::data(&row, "id"))
                .and_then(|id| id.parse().ok());
            if let (Some(id), Some(action)) = (id, dom::data(&button, "action")) {
                view.act(id, &action);
            }
        });
    }

    fn act(&self, id: u32, action: &str) {
        let Some(queue) = self.queue() else { return };
        match action {
            "pause" => queue.pause(id),
            "resume" => queue.resume(id),
            "cancel" => queue.cancel(id),
            "retry" => queue.restart(id, false),
            "overwrite" => queue.restart(id, true),
            "dismiss" => {
                queue.dismiss(id);
                if let Some(row) = self.rows.borrow_mut().remove(&id) {
                    row.item.remove();
                }
                // The focused button is gone: continue from the drop zone.
                let _ = self.zone.focus();
            }
            _ => {}
        }
    }

    /// Redraws one upload's row (creating it on first sight).
    pub fn render(&self, upload: &Upload) {
        let mut rows = self.rows.borrow_mut();
        let row = rows.entry(upload.id).or_insert_with(|| {
            let row = Row::new(upload);
            let _ = self.list.append_child(&row.item);
            row
        });
        if let Some(message) = row.update(upload) {
            self.shell.announce(&message);
        }
    }
}

fn mode_option(
    input: &web_sys::Node,
    id: &str,
    title: &str,
    tag: Option<&str>,
    description: &str,
) -> El {
    let mut heading = El::new("span").class("mode-title").text(title);
    if let Some(tag) = tag {
        heading = heading.child(El::new("span").class("tag").text(tag));
    }
    El::new("label")
        .class("mode")
        .attr("for", id)
        .child(input)
        .child(
            El::new("span").class("mode-text").child(heading).child(
                El::new("span")
                    .class("mode-desc")
                    .attr("id", &format!("{id}-desc"))
                    .text(description),
            ),
        )
}

fn state_attr(state: &State) -> &'static str {
    match state {
        State::Queued => "queued",
        State::Working { .. } => "working",
        State::Done { .. } => "done",
        State::Failed(_) => "failed",
    }
}

fn state_label(state: &State, mode: Mode) -> &'static str {
    match (state, mode) {
        (State::Queued, _) => "Waiting",
        (State::Working { paused: true }, _) => "Paused",
        (State::Working { .. }, Mode::Cse) => "Encrypting and uploading",
        (State::Working { .. }, Mode::Sse) => "Uploading",
        (State::Done { .. }, Mode::Cse) => "Encrypted and uploaded",
        (State::Done { .. }, Mode::Sse) => "Uploaded",
        (State::Failed(f), _) if f.cancelled => "Cancelled",
        (State::Failed(_), _) => "Failed",
    }
}

impl Row {
    fn new(upload: &Upload) -> Row {
        let status = El::new("span")
            .class("upload-state")
            .testid("upload-status")
            .build();
        let progress: HtmlProgressElement = El::new("progress")
            .attr("max", "100")
            .attr("value", "0")
            .attr("aria-label", &format!("{} progress", upload.name))
            .cast();
        let meta = El::new("p").class("upload-meta").build();
        let error = El::new("p")
            .class("upload-error")
            .testid("upload-error")
            .attr("hidden", "")
            .build();
        let actions = El::new("div").class("actions").build();
        let (badge, badge_class) = match upload.mode {
            Mode::Cse => ("Client-side", "badge badge-cse"),
            Mode::Sse => ("SSE-KMS", "badge badge-sse"),
        };
        let item = El::new("li")
            .class("upload")
            .testid("upload-row")
            .attr("data-id", &upload.id.to_string())
            .attr("data-name", &upload.name)
            .child(
                El::new("div")
                    .class("upload-head")
                    .child(El::new("span").class("file-name").text(&upload.name))
                    .child(El::new("span").class(badge_class).text(badge))
                    .child(&status),
            )
            .child(&progress)
            .child(&meta)
            .child(&error)
            .child(&actions)
            .build();
        Row {
            item,
            status,
            progress,
            meta,
            error,
            actions,
            shown: RefCell::new(None),
            announced_quarter: Cell::new(0),
        }
    }

    /// Updates the row; returns what to announce to screen readers, if anything.
    fn update(&self, upload: &Upload) -> Option<String> {
        let state = upload.state();
        let size = upload.size();
        let done = upload.done();
        let percent = format::percent(done, size);
        self.progress.set_value(percent as f64);
        dom::set_text(&self.meta, &meta_text(upload, &state, done, size, percent));
        if self.shown.borrow().as_ref() == Some(&state) {
            return self.progress_milestone(upload, &state, percent);
        }
        dom::set_attr(&self.item, "data-state", state_attr(&state));
        dom::set_text(&self.status, state_label(&state, upload.mode));
        match &state {
            State::Failed(failure) if !failure.cancelled => {
                dom::set_text(&self.error, &failure.message);
                dom::set_hidden(&self.error, false);
            }
            _ => dom::set_hidden(&self.error, true),
        }
        self.render_actions(upload, &state);
        *self.shown.borrow_mut() = Some(state.clone());
        Some(format!(
            "{}: {}",
            upload.name,
            state_label(&state, upload.mode)
        ))
    }

    fn progress_milestone(&self, upload: &Upload, state: &State, percent: u64) -> Option<String> {
        let quarter = percent / 25;
        if !matches!(state, State::Working { paused: false })
            || quarter <= self.announced_quarter.get()
        {
            return None;
        }
        self.announced_quarter.set(quarter);
        (quarter < 4).then(|| format!("{}: {percent}%", upload.name))
    }

    fn render_actions(&self, upload: &Upload, state: &State) {
        let had_focus = dom::document()
            .active_element()
            .is_some_and(|focused| self.actions.contains(Some(&focused)));
        dom::clear(&self.actions);
        let buttons: &[(&str, &str)] = match state {
            State::Queued => &[("cancel", "Cancel")],
            State::Working { paused: false } => &[("pause", "Pause"), ("cancel", "Cancel")],
            State::Working { paused: true } => &[("resume", "Resume"), ("cancel", "Cancel")],
            State::Done { .. } => &[("dismiss", "Remove from list")],
            State::Failed(f) => match f.offer {
                Offer::Retry => &[("retry", "Retry"), ("dismiss", "Remove from list")],
                Offer::Overwrite => &[("overwrite", "Overwrite"), ("dismiss", "Remove from list")],
                Offer::Nothing => &[("dismiss", "Remove from list")],
            },
        };
        for (index, (action, label)) in buttons.iter().enumerate() {
            let class = if index == 0 && matches!(*action, "overwrite" | "retry") {
                "button primary small"
            } else {
                "button small"
            };
            let button = El::new("button")
                .attr("type", "button")
                .class(class)
                .attr("data-action", action)
                .testid(action)
                .attr("aria-label", &format!("{label}: {}", upload.name))
                .text(label)
                .html();
            let _ = self.actions.append_child(&button);
            if had_focus && index == 0 {
                let _ = button.focus();
            }
        }
    }
}

fn meta_text(upload: &Upload, state: &State, done: u64, size: u64, percent: u64) -> String {
    match state {
        State::Working { paused: false } => {
            let mut parts = vec![
                format!("{} of {}", format::bytes(done), format::bytes(size)),
                format!("{percent}%"),
            ];
            if let Some(speed) = upload.speed() {
                parts.push(format::speed(speed));
            }
            if let Some(left) = upload.seconds_left() {
                parts.push(format::time_left(left));
            }
            parts.join(" · ")
        }
        State::Working { paused: true } => {
            format!(
                "{} of {} · {percent}% · paused",
                format::bytes(done),
                format::bytes(size)
            )
        }
        _ => format::bytes(size),
    }
}
