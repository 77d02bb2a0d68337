//! Sharing, for the signed-in owner: the dialog that makes a share link of a
//! file (expiry, download limit, note; then the link with a copy button), and
//! the card listing the owner's links with their downloads and a revoke
//! button.

use std::cell::RefCell;
use std::rc::Rc;

use sealdrop_api::{CreateShareRequest, ObjectInfo, RevokeShareRequest, ShareStatus, ShareSummary};
use sealdrop_transfer::{ShareLink, calls};
use web_sys::{
    Element, HtmlButtonElement, HtmlDialogElement, HtmlFormElement, HtmlInputElement,
    HtmlSelectElement, HtmlTextAreaElement,
};

use super::copy_link::CopyLink;
use super::dom::{self, El};
use super::format;
use super::shell::Shell;
use crate::services::Services;

/// Expiry choices offered, in seconds (the broker caps them at its maximum).
const EXPIRY_CHOICES: [(&str, u64); 4] = [
    ("1 hour", 3600),
    ("1 day", 86_400),
    ("7 days", 7 * 86_400),
    ("30 days", 30 * 86_400),
];
const DEFAULT_EXPIRY_SECS: u64 = 7 * 86_400;

/// The base of links made here: this page's address without file, query or
/// fragment (the app may live under a path prefix).
pub(super) fn link_base() -> String {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return String::new();
    };
    let origin = location.origin().unwrap_or_default();
    let path = location.pathname().unwrap_or_default();
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{origin}{dir}")
}

/// The share dialog (one, reused).
pub struct ShareDialog {
    /// The `<dialog>`.
    pub dialog: HtmlDialogElement,
    title: Element,
    form: HtmlFormElement,
    expiry: HtmlSelectElement,
    max_downloads: HtmlInputElement,
    note: HtmlTextAreaElement,
    create: HtmlButtonElement,
    result: Element,
    link: CopyLink,
    explained: Element,
    error: Element,
    keys: RefCell<Vec<String>>,
    services: Rc<Services>,
    shell: Rc<Shell>,
    list: Rc<ShareList>,
}

impl ShareDialog {
    /// Builds the dialog (closed); links it makes appear in `list`.
    pub fn new(services: Rc<Services>, shell: Rc<Shell>, list: Rc<ShareList>) -> Rc<ShareDialog> {
        let title = El::new("h2").attr("id", "share-dialog-title").build();
        let mut expiry = El::new("select")
            .attr("id", "share-expiry")
            .testid("share-expiry");
        for (label, secs) in EXPIRY_CHOICES {
            let mut option = El::new("option")
                .attr("value", &secs.to_string())
                .text(label);
            if secs == DEFAULT_EXPIRY_SECS {
                option = option.attr("selected", "");
            }
            expiry = expiry.child(option);
        }
        let expiry: HtmlSelectElement = expiry.cast();
        let max_downloads: HtmlInputElement = El::new("input")
            .attr("id", "share-max-downloads")
            .attr("type", "number")
            .attr("min", "1")
            .attr("inputmode", "numeric")
            .attr("placeholder", "No limit")
            .testid("share-max-downloads")
            .cast();
        let note: HtmlTextAreaElement = El::new("textarea")
            .attr("id", "share-note")
            .attr("maxlength", "1000")
            .attr("rows", "2")
            .testid("share-note-input")
            .cast();
        let create: HtmlButtonElement = El::new("button")
            .attr("type", "submit")
            .class("button primary")
            .testid("create-share")
            .text("Create link")
            .cast();
        let field = |label: &str, id: &str, input: &Element| {
            El::new("div")
                .class("field")
                .child(El::new("label").attr("for", id).text(label))
                .child(input)
        };
        let form: HtmlFormElement = El::new("form")
            .class("share-form")
            .testid("share-form")
            .child(field("Link works for", "share-expiry", expiry.as_ref()))
            .child(field(
                "Downloads allowed per file",
                "share-max-downloads",
                max_downloads.as_ref(),
            ))
            .child(field(
                "Note for the recipient (optional)",
                "share-note",
                note.as_ref(),
            ))
            .child(&create)
            .cast();
        let link = CopyLink::new("share-link", "Share link", "share-link");
        let explained = El::new("p").class("hint").build();
        let result = El::new("div")
            .class("share-result")
            .testid("share-result")
            .attr("hidden", "")
            .child(&link.root)
            .child(&explained)
            .build();
        let error = El::new("p")
            .class("dialog-error")
            .attr("role", "alert")
            .testid("share-error")
            .attr("hidden", "")
            .build();
        let close = El::new("form")
            .attr("method", "dialog")
            .class("dialog-actions")
            .child(
                El::new("button")
                    .class("button")
                    .testid("close-share")
                    .text("Close"),
            );
        let dialog: HtmlDialogElement = El::new("dialog")
            .class("dialog")
            .attr("aria-labelledby", "share-dialog-title")
            .testid("share-dialog")
            .child(&title)
            .child(&form)
            .child(&result)
            .child(&error)
            .child(close)
            .cast();
        let view = Rc::new(ShareDialog {
            dialog,
            title,
            form,
            expiry,
            max_downloads,
            note,
            create,
            result,
            link,
            explained,
            error,
            keys: RefCell::new(Vec::new()),
            services,
            shell,
            list,
        });
        view.wire();
        view
    }

    fn wire(self: &Rc<Self>) {
        let view = Rc::downgrade(self);
        dom::listen(&self.form, "submit", move |event| {
            event.prevent_default();
            if let Some(view) = view.upgrade() {
                view.submit();
            }
        });
    }

    /// Opens the dialog for `objects`.
    pub fn show(&self, objects: &[ObjectInfo]) {
        *self.keys.borrow_mut() = objects.iter().map(|o| o.key.clone()).collect();
        let title = match objects {
            [one] => format!("Share {}", one.name),
            many => format!("Share {} files", many.len()),
        };
        dom::set_text(&self.title, &title);
        self.form.reset();
        dom::set_hidden(&self.form, false);
        dom::set_hidden(&self.result, true);
        dom::set_hidden(&self.error, true);
        self.link.clear();
        self.create.set_disabled(false);
        let _ = self.dialog.show_modal();
    }

    fn submit(self: &Rc<Self>) {
        let max_downloads = self.max_downloads.value();
        let max_downloads = match max_downloads.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    self.fail("Downloads allowed must be a whole number of at least 1, or empty for no limit.");
                    return;
                }
            },
        };
        let note = self.note.value();
        let request = CreateShareRequest {
            keys: self.keys.borrow().clone(),
            expires_in_secs: self.expiry.value().parse().ok(),
            max_downloads,
            note: (!note.trim().is_empty()).then_some(note),
        };
        self.create.set_disabled(true);
        dom::set_hidden(&self.error, true);
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let created = view.services.api.call(calls::create_share(&request)).await;
            view.create.set_disabled(false);
            match created {
                Ok(created) => {
                    let link = ShareLink::new(&link_base(), &created.share.id, &created.secret);
                    dom::set_text(&view.explained, &explain(&created.share));
                    dom::set_hidden(&view.form, true);
                    dom::set_hidden(&view.result, false);
                    view.link.set(&link.to_url());
                    view.shell.announce("Share link created.");
                    view.list.refresh();
                }
                Err(error) => view.fail(&error.message()),
            }
        });
    }

    fn fail(&self, message: &str) {
        dom::set_text(&self.error, message);
        dom::set_hidden(&self.error, false);
    }
}

fn explain(share: &ShareSummary) -> String {
    let limit = match share.max_downloads {
        None => "as often as they like".to_owned(),
        Some(1) => "once per file".to_owned(),
        Some(n) => format!("{n} times per file"),
    };
    format!(
        "Anyone with this link can download {limit} until {}, without an account. \
         The part after # is the key to it: sealdrop shows it only now, so copy it before \
         closing this dialog.",
        format::date(&share.expires_at)
    )
}

/// The card listing the owner's share links.
pub struct ShareList {
    /// The card.
    pub root: Element,
    tbody: Element,
    empty: Element,
    services: Rc<Services>,
    shell: Rc<Shell>,
}

impl ShareList {
    /// Builds the card and loads the links.
    pub fn new(services: Rc<Services>, shell: Rc<Shell>) -> Rc<ShareList> {
        let tbody = El::new("tbody").build();
        let empty = El::new("p")
            .class("empty")
            .testid("shares-empty")
            .text("No share links yet. Use Share on a file to make one.")
            .build();
        let head = |label: &str| El::new("th").attr("scope", "col").text(label);
        let table = El::new("table")
            .class("objects shares")
            .child(
                El::new("caption")
                    .class("visually-hidden")
                    .text("Your share links"),
            )
            .child(
                El::new("thead").child(
                    El::new("tr")
                        .child(head("Files"))
                        .child(head("Status"))
                        .child(head("Expires"))
                        .child(head("Downloads"))
                        .child(head("Last opened"))
                        .child(
                            El::new("th")
                                .attr("scope", "col")
                                .child(El::new("span").class("visually-hidden").text("Actions")),
                        ),
                ),
            )
            .child(&tbody);
        let root = El::new("section")
            .class("card")
            .attr("aria-labelledby", "shares-title")
            .testid("shares")
            .child(
                El::new("div").class("section-head").child(
                    El::new("h2")
                        .attr("id", "shares-title")
                        .text("Your share links"),
                ),
            )
            .child(&empty)
            .child(El::new("div").class("table-scroll").child(table))
            .build();
        let view = Rc::new(ShareList {
            root,
            tbody,
            empty,
            services,
            shell,
        });
        let weak = Rc::downgrade(&view);
        dom::listen(&view.tbody, "click", move |event| {
            let (Some(_), Some(view)) = (
                dom::closest(&event, "button[data-action=revoke]"),
                weak.upgrade(),
            ) else {
                return;
            };
            if let Some(id) =
                dom::closest(&event, "tr[data-share]").and_then(|r| dom::data(&r, "share"))
            {
                view.revoke(id);
            }
        });
        view.refresh();
        view
    }

    /// Reloads the links.
    pub fn refresh(self: &Rc<Self>) {
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match view.services.api.call(calls::list_shares()).await {
                Ok(list) => view.render(&list.shares),
                Err(error) => view
                    .shell
                    .show_error(&format!("Could not list your share links. {error}")),
            }
        });
    }

    fn render(&self, shares: &[ShareSummary]) {
        dom::clear(&self.tbody);
        dom::set_hidden(&self.empty, !shares.is_empty());
        for share in shares {
            let names: Vec<&str> = share
                .objects
                .iter()
                .map(|o| o.key.rsplit('/').next().unwrap_or(&o.key))
                .collect();
            let downloads: Vec<String> = share
                .objects
                .iter()
                .map(|o| match share.max_downloads {
                    Some(max) => format!("{}/{max}", o.downloads),
                    None => o.downloads.to_string(),
                })
                .collect();
            let mut actions = El::new("td").class("row-actions");
            if share.status == ShareStatus::Active {
                actions = actions.child(
                    El::new("button")
                        .attr("type", "button")
                        .class("button small")
                        .attr("data-action", "revoke")
                        .testid("revoke-share")
                        .attr(
                            "aria-label",
                            &format!("Revoke the link to {}", names.join(", ")),
                        )
                        .text("Revoke"),
                );
            }
            let row = El::new("tr")
                .testid("share-row")
                .attr("data-share", &share.id)
                .attr("data-status", status_label(share.status))
                .child(
                    El::new("th")
                        .attr("scope", "row")
                        .class("name")
                        .text(&names.join(", ")),
                )
                .child(El::new("td").text(status_label(share.status)))
                .child(
                    El::new("td")
                        .class("date")
                        .text(&format::date(&share.expires_at)),
                )
                .child(El::new("td").class("num").text(&downloads.join(", ")))
                .child(
                    El::new("td").class("date").text(
                        &share
                            .last_access_at
                            .as_deref()
                            .map_or_else(|| "never".to_owned(), format::date),
                    ),
                )
                .child(actions)
                .build();
            let _ = self.tbody.append_child(&row);
        }
    }

    fn revoke(self: &Rc<Self>, id: String) {
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match view
                .services
                .api
                .call(calls::revoke_share(&RevokeShareRequest { id }))
                .await
            {
                Ok(()) => {
                    view.shell.announce("The link was revoked.");
                    view.refresh();
                }
                Err(error) => view
                    .shell
                    .show_error(&format!("Could not revoke the link. {error}")),
            }
        });
    }
}

fn status_label(status: ShareStatus) -> &'static str {
    match status {
        ShareStatus::Active => "active",
        ShareStatus::Expired => "expired",
        ShareStatus::Exhausted => "used up",
        ShareStatus::Revoked => "revoked",
        ShareStatus::Deleted => "files gone",
    }
}
