//! The object list: paginated, with encryption badges, download (with
//! progress and a clear failure message), details and delete with confirmation.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use sealdrop_api::{ObjectInfo, ObjectMode};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlDialogElement, HtmlProgressElement};

use super::badge;
use super::details::Details;
use super::dom::{self, El};
use super::format;
use super::sharing::ShareDialog;
use super::shell::Shell;
use crate::download::{self, Delivered};
use crate::services::Services;
use sealdrop_transfer::calls;

/// Where a download of one object is.
#[derive(Clone, Debug, PartialEq)]
enum Transfer {
    Working { done: u64, total: u64 },
    Done,
    Failed(String),
}

/// The objects card.
pub struct Objects {
    /// The card.
    pub root: Element,
    tbody: Element,
    table: Element,
    empty: Element,
    load_more: HtmlButtonElement,
    details: Details,
    confirm: Confirm,
    share: Rc<ShareDialog>,
    services: Rc<Services>,
    shell: Rc<Shell>,
    objects: RefCell<Vec<ObjectInfo>>,
    cursor: RefCell<Option<String>>,
    transfers: RefCell<HashMap<String, Transfer>>,
    /// Keys ticked for "Share selected".
    selected: RefCell<HashSet<String>>,
    share_selected: HtmlButtonElement,
    delivered: RefCell<HashMap<String, Delivered>>,
    loading: Cell<bool>,
    /// Files that came in through a file request after this time (ms since
    /// the epoch) are marked new.
    inbox_seen: f64,
}

/// How far back a tab's first list marks inbox files as new.
const NEW_FOR_MS: f64 = 7.0 * 86_400_000.0;

/// When this tab last showed the list (its first time: a week ago), and
/// records now. In `sessionStorage`, like the session itself: the app keeps
/// nothing in persistent browser storage.
fn take_inbox_seen() -> f64 {
    const KEY: &str = "sealdrop.inbox-seen";
    let now = js_sys::Date::now();
    let storage = crate::session::storage();
    let seen = storage
        .as_ref()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(now - NEW_FOR_MS);
    if let Some(storage) = storage {
        let _ = storage.set_item(KEY, &now.to_string());
    }
    seen
}

impl Objects {
    /// Builds the card and loads the first page.
    pub fn new(services: Rc<Services>, shell: Rc<Shell>, share: Rc<ShareDialog>) -> Rc<Objects> {
        let refresh = El::new("button")
            .attr("type", "button")
            .class("button small")
            .testid("refresh")
            .text("Refresh");
        let share_selected: HtmlButtonElement = El::new("button")
            .attr("type", "button")
            .class("button small")
            .testid("share-selected")
            .attr("disabled", "")
            .text("Share selected")
            .cast();
        let tbody = El::new("tbody").build();
        let table = El::new("table")
            .class("objects")
            .child(
                El::new("caption")
                    .class("visually-hidden")
                    .text("Your stored files"),
            )
            .child(
                El::new("thead").child(
                    El::new("tr")
                        .child(El::new("th").attr("scope", "col").text("Name"))
                        .child(El::new("th").attr("scope", "col").class("num").text("Size"))
                        .child(El::new("th").attr("scope", "col").text("Modified"))
                        .child(El::new("th").attr("scope", "col").text("Encryption"))
                        .child(
                            El::new("th")
                                .attr("scope", "col")
                                .child(El::new("span").class("visually-hidden").text("Actions")),
                        ),
                ),
            )
            .child(&tbody)
            .attr("hidden", "")
            .build();
        let empty = El::new("p")
            .class("empty")
            .testid("objects-empty")
            .attr("hidden", "")
            .text("No files yet. Files you upload appear here.")
            .build();
        let load_more: HtmlButtonElement = El::new("button")
            .attr("type", "button")
            .class("button load-more")
            .testid("load-more")
            .attr("hidden", "")
            .text("Show more files")
            .cast();
        let details = Details::new();
        let confirm = Confirm::new();
        let root = El::new("section")
            .class("card")
            .attr("aria-labelledby", "objects-title")
            .attr("aria-busy", "false")
            .child(
                El::new("div")
                    .class("section-head")
                    .child(El::new("h2").attr("id", "objects-title").text("Your files"))
                    .child(
                        El::new("div")
                            .class("actions")
                            .child(&share_selected)
                            .child(&refresh),
                    ),
            )
            .child(&empty)
            .child(El::new("div").class("table-scroll").child(&table))
            .child(&load_more)
            .child(&details.dialog)
            .child(&confirm.dialog)
            .child(&share.dialog)
            .build();
        let inbox_seen = take_inbox_seen();
        let view = Rc::new(Objects {
            root,
            tbody,
            table,
            empty,
            load_more,
            details,
            confirm,
            share,
            services,
            shell,
            objects: RefCell::new(Vec::new()),
            cursor: RefCell::new(None),
            transfers: RefCell::new(HashMap::new()),
            selected: RefCell::new(HashSet::new()),
            share_selected,
            delivered: RefCell::new(HashMap::new()),
            loading: Cell::new(false),
            inbox_seen,
        });
        view.wire(refresh.as_ref().unchecked_ref());
        view.refresh();
        view
    }

    fn wire(self: &Rc<Self>, refresh: &Element) {
        let view = Rc::downgrade(self);
        dom::listen(refresh, "click", move |_| {
            if let Some(view) = view.upgrade() {
                view.refresh();
            }
        });
        let view = Rc::downgrade(self);
        dom::listen(&self.load_more, "click", move |_| {
            if let Some(view) = view.upgrade() {
                view.load(false);
            }
        });
        let view = Rc::downgrade(self);
        dom::listen(&self.tbody, "change", move |event| {
            let (Some(tick), Some(view)) =
                (dom::closest(&event, "input[data-select]"), view.upgrade())
            else {
                return;
            };
            let key = dom::closest(&event, "tr[data-key]").and_then(|row| dom::data(&row, "key"));
            let checked = tick
                .dyn_ref::<web_sys::HtmlInputElement>()
                .is_some_and(web_sys::HtmlInputElement::checked);
            if let Some(key) = key {
                let mut selected = view.selected.borrow_mut();
                if checked {
                    selected.insert(key);
                } else {
                    selected.remove(&key);
                }
                view.share_selected.set_disabled(selected.is_empty());
            }
        });
        let view = Rc::downgrade(self);
        dom::listen(&self.share_selected, "click", move |_| {
            let Some(view) = view.upgrade() else { return };
            let objects: Vec<ObjectInfo> = view
                .objects
                .borrow()
                .iter()
                .filter(|o| view.selected.borrow().contains(&o.key))
                .cloned()
                .collect();
            if !objects.is_empty() {
                view.share.show(&objects);
            }
        });
        let view = Rc::downgrade(self);
        dom::listen(&self.tbody, "click", move |event| {
            let (Some(button), Some(view)) =
                (dom::closest(&event, "button[data-action]"), view.upgrade())
            else {
                return;
            };
            let key = dom::closest(&event, "tr[data-key]").and_then(|row| dom::data(&row, "key"));
            if let (Some(key), Some(action)) = (key, dom::data(&button, "action")) {
                match action.as_str() {
                    "download" => view.download(&key),
                    "details" => view.show_details(&key),
                    "share" => {
                        if let Some(object) = view.find(&key) {
                            view.share.show(&[object]);
                        }
                    }
                    "delete" => view.ask_delete(&key),
                    _ => {}
                }
            }
        });
        let view = Rc::downgrade(self);
        dom::listen(&self.confirm.dialog, "close", move |_| {
            let Some(view) = view.upgrade() else { return };
            if view.confirm.dialog.return_value() == "delete"
                && let Some(key) = view.confirm.key.borrow_mut().take()
            {
                view.delete(key);
            }
        });
    }

    /// Reloads the list from the first page.
    pub fn refresh(self: &Rc<Self>) {
        self.load(true);
    }

    fn load(self: &Rc<Self>, from_start: bool) {
        if self.loading.replace(true) {
            return;
        }
        dom::set_attr(&self.root, "aria-busy", "true");
        let cursor = if from_start {
            None
        } else {
            self.cursor.borrow().clone()
        };
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let page = view
                .services
                .api
                .call(calls::list_objects(&page_query(cursor)))
                .await;
            view.loading.set(false);
            dom::set_attr(&view.root, "aria-busy", "false");
            match page {
                Ok(page) => {
                    {
                        let mut objects = view.objects.borrow_mut();
                        if from_start {
                            objects.clear();
                        }
                        objects.extend(page.objects);
                    }
                    *view.cursor.borrow_mut() = page.next_cursor;
                    view.render();
                }
                Err(error) => view
                    .shell
                    .show_error(&format!("Could not list your files. {error}")),
            }
        });
    }

    /// Shows the list. Rows whose content did not change are kept (moved, not
    /// rebuilt), so focus and element references survive a refresh.
    fn render(&self) {
        let objects = self.objects.borrow();
        let mut existing = HashMap::new();
        let rows = self.tbody.children();
        for index in 0..rows.length() {
            if let Some(row) = rows.item(index)
                && let Some(key) = dom::data(&row, "key")
            {
                existing.insert(key, row);
            }
        }
        for object in objects.iter() {
            let fresh = self.row(object);
            let row = match existing.remove(&object.key) {
                Some(old) if old.outer_html() == fresh.outer_html() => old,
                _ => fresh,
            };
            let _ = self.tbody.append_child(&row);
        }
        for stale in existing.values() {
            stale.remove();
        }
        // A ticked object that is gone (deleted, or another page) is not shared.
        self.selected
            .borrow_mut()
            .retain(|key| objects.iter().any(|o| &o.key == key));
        self.share_selected
            .set_disabled(self.selected.borrow().is_empty());
        dom::set_hidden(&self.table, objects.is_empty());
        dom::set_hidden(&self.empty, !objects.is_empty());
        dom::set_hidden(&self.load_more, self.cursor.borrow().is_none());
    }

    fn find(&self, key: &str) -> Option<ObjectInfo> {
        self.objects.borrow().iter().find(|o| o.key == key).cloned()
    }

    fn row(&self, object: &ObjectInfo) -> Element {
        let transfer = self.transfers.borrow().get(&object.key).cloned();
        let button = |action: &str, label: &str| {
            El::new("button")
                .attr("type", "button")
                .class("button small")
                .attr("data-action", action)
                .testid(action)
                .attr("aria-label", &format!("{label} {}", object.name))
                .text(label)
        };
        let mut download = button("download", "Download");
        if matches!(transfer, Some(Transfer::Working { .. })) {
            download = download.attr("disabled", "");
        }
        let actions = El::new("td").class("row-actions").child(
            El::new("div")
                .class("actions")
                .child(download)
                .child(button("share", "Share"))
                .child(button("details", "Details"))
                .child(button("delete", "Delete")),
        );
        let mut tick = El::new("input")
            .attr("type", "checkbox")
            .attr("data-select", "")
            .class("select")
            .testid("select")
            .attr("aria-label", &format!("Select {}", object.name));
        if self.selected.borrow().contains(&object.key) {
            tick = tick.attr("checked", "");
        }
        let mut name = El::new("th")
            .attr("scope", "row")
            .class("name")
            .child(tick)
            .child(El::new("span").class("object-name").text(&object.name));
        let new = object.name.starts_with(sealdrop_api::INBOX_FOLDER)
            && js_sys::Date::parse(&object.last_modified) > self.inbox_seen;
        if new {
            name = name.child(
                El::new("span")
                    .class("tag")
                    .testid("new-file")
                    .attr(
                        "title",
                        "Arrived through a file request since your last visit",
                    )
                    .text("New"),
            );
        }
        if let Some(transfer) = &transfer {
            name = name.child(transfer_status(transfer, object.encryption.mode()));
        }
        El::new("tr")
            .attr("data-new", if new { "true" } else { "false" })
            .testid("object-row")
            .attr("data-key", &object.key)
            .attr("data-mode", object.encryption.mode().as_str())
            .attr(
                "data-download",
                match transfer {
                    None => "idle",
                    Some(Transfer::Working { .. }) => "working",
                    Some(Transfer::Done) => "done",
                    Some(Transfer::Failed(_)) => "failed",
                },
            )
            .child(name)
            .child(El::new("td").class("num").text(&format::bytes(object.size)))
            .child(
                El::new("td")
                    .class("date")
                    .text(&format::date(&object.last_modified)),
            )
            .child(El::new("td").child(badge::badge(object.encryption.mode())))
            .child(actions)
            .build()
    }

    fn set_transfer(&self, key: &str, transfer: Transfer) {
        self.transfers.borrow_mut().insert(key.to_owned(), transfer);
        let Some(object) = self.find(key) else { return };
        let selector = format!("tr[data-key=\"{}\"]", css_escape(key));
        if let Ok(Some(old)) = self.tbody.query_selector(&selector) {
            // Keep keyboard focus on the row's download button across redraws.
            let focused = dom::document()
                .active_element()
                .filter(|element| old.contains(Some(element)))
                .and_then(|element| dom::data(&element, "action"));
            let new = self.row(&object);
            let _ = old.replace_with_with_node_1(&new);
            if let Some(action) = focused
                && let Ok(Some(button)) =
                    new.query_selector(&format!("button[data-action=\"{action}\"]"))
            {
                let _ = button.unchecked_into::<web_sys::HtmlElement>().focus();
            }
        }
    }

    fn download(self: &Rc<Self>, key: &str) {
        let Some(object) = self.find(key) else { return };
        if matches!(
            self.transfers.borrow().get(key),
            Some(Transfer::Working { .. })
        ) {
            return;
        }
        self.set_transfer(
            key,
            Transfer::Working {
                done: 0,
                total: object.stored_size,
            },
        );
        self.shell.announce(&format!("Downloading {}", object.name));
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let progress = |done: u64, total: u64| {
                view.update_progress(&object.key, done, total);
            };
            let outcome = download::download(&view.services, &object, &progress).await;
            match outcome {
                Ok(delivered) => {
                    view.delivered
                        .borrow_mut()
                        .insert(object.key.clone(), delivered);
                    view.set_transfer(&object.key, Transfer::Done);
                    view.shell
                        .announce(&format!("{} downloaded and verified", object.name));
                }
                Err(message) => {
                    view.set_transfer(&object.key, Transfer::Failed(message.clone()));
                    view.shell
                        .show_error(&format!("{}: {message}", object.name));
                }
            }
        });
    }

    /// Updates a row's progress in place (no redraw: this runs many times a second).
    fn update_progress(&self, key: &str, done: u64, total: u64) {
        self.transfers
            .borrow_mut()
            .insert(key.to_owned(), Transfer::Working { done, total });
        let selector = format!("tr[data-key=\"{}\"] .row-status", css_escape(key));
        let Ok(Some(status)) = self.tbody.query_selector(&selector) else {
            return;
        };
        if let Ok(Some(bar)) = status.query_selector("progress") {
            bar.unchecked_into::<HtmlProgressElement>()
                .set_value(format::percent(done, total) as f64);
        }
        if let Ok(Some(text)) = status.query_selector(".row-status-text") {
            dom::set_text(&text, &working_text(done, total));
        }
    }

    fn show_details(&self, key: &str) {
        if let Some(object) = self.find(key) {
            self.details.show(&object, self.delivered.borrow().get(key));
        }
    }

    fn ask_delete(&self, key: &str) {
        if let Some(object) = self.find(key) {
            self.confirm.ask(&object);
        }
    }

    fn delete(self: &Rc<Self>, key: String) {
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let name = view
                .find(&key)
                .map(|o| o.name)
                .unwrap_or_else(|| key.clone());
            match view.services.api.call(calls::delete_object(&key)).await {
                Ok(()) => {
                    view.objects.borrow_mut().retain(|o| o.key != key);
                    view.transfers.borrow_mut().remove(&key);
                    view.render();
                    view.shell.announce(&format!("{name} deleted"));
                }
                Err(error) => view
                    .shell
                    .show_error(&format!("Could not delete {name}. {error}")),
            }
        });
    }
}

fn working_text(done: u64, total: u64) -> String {
    format!(
        "Downloading and verifying · {} of {} · {}%",
        format::bytes(done),
        format::bytes(total),
        format::percent(done, total)
    )
}

fn transfer_status(transfer: &Transfer, mode: ObjectMode) -> El {
    let status = El::new("div").class("row-status").testid("download-status");
    match transfer {
        Transfer::Working { done, total } => status
            .child(
                El::new("progress")
                    .attr("max", "100")
                    .attr("value", &format::percent(*done, *total).to_string())
                    .attr("aria-label", "Download progress"),
            )
            .child(
                El::new("span")
                    .class("row-status-text")
                    .text(&working_text(*done, *total)),
            ),
        Transfer::Done => status.child(El::new("span").class("row-status-text ok").text(
            match mode {
                ObjectMode::CseV3 | ObjectMode::CseV2 => {
                    "Downloaded — decrypted and integrity verified"
                }
                _ => "Downloaded",
            },
        )),
        Transfer::Failed(message) => status.child(
            El::new("span")
                .class("row-status-text failed")
                .testid("download-error")
                .text(message),
        ),
    }
}

/// Escapes a value for a CSS attribute selector in double quotes.
fn css_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The delete confirmation dialog.
struct Confirm {
    dialog: HtmlDialogElement,
    question: Element,
    key: RefCell<Option<String>>,
}

impl Confirm {
    fn new() -> Confirm {
        let question = El::new("h2").attr("id", "confirm-title").build();
        let dialog: HtmlDialogElement = El::new("dialog")
            .class("dialog")
            .attr("aria-labelledby", "confirm-title")
            .attr("aria-describedby", "confirm-text")
            .testid("delete-dialog")
            .child(&question)
            .child(
                El::new("p")
                    .attr("id", "confirm-text")
                    .text("The object is removed from storage. This cannot be undone."),
            )
            .child(
                El::new("form")
                    .attr("method", "dialog")
                    .class("dialog-actions")
                    .child(
                        El::new("button")
                            .class("button")
                            .attr("value", "keep")
                            .attr("autofocus", "")
                            .testid("cancel-delete")
                            .text("Keep it"),
                    )
                    .child(
                        El::new("button")
                            .class("button danger")
                            .attr("value", "delete")
                            .testid("confirm-delete")
                            .text("Delete"),
                    ),
            )
            .cast();
        Confirm {
            dialog,
            question,
            key: RefCell::new(None),
        }
    }

    fn ask(&self, object: &ObjectInfo) {
        dom::set_text(&self.question, &format!("Delete “{}”?", object.name));
        *self.key.borrow_mut() = Some(object.key.clone());
        self.dialog.set_return_value("");
        let _ = self.dialog.show_modal();
    }
}

/// Objects asked for per listing call.
const PAGE_SIZE: u32 = 100;

/// One page of the listing, after `cursor`.
fn page_query(cursor: Option<String>) -> sealdrop_api::ListObjectsQuery {
    sealdrop_api::ListObjectsQuery {
        prefix: None,
        cursor,
        limit: Some(PAGE_SIZE),
    }
}
