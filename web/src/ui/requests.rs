//! "Request files", for the signed-in owner: a form that makes a file
//! request link (name, how long, how many files, how much), the link with a
//! copy button, and the list of requests with what came in and a close
//! button. Files arrive in the object list under `inbox/<name>/`.

use std::rc::Rc;

use sealdrop_api::{CloseFileRequest, CreateFileRequest, FileRequestStatus, FileRequestSummary};
use sealdrop_transfer::{RequestLink, calls};
use web_sys::{
    Element, HtmlButtonElement, HtmlFormElement, HtmlInputElement, HtmlSelectElement,
    HtmlTextAreaElement,
};

use super::copy_link::CopyLink;
use super::dom::{self, El};
use super::format;
use super::sharing::link_base;
use super::shell::Shell;
use crate::services::Services;

const EXPIRY_CHOICES: [(&str, u64); 3] = [
    ("1 day", 86_400),
    ("7 days", 7 * 86_400),
    ("30 days", 30 * 86_400),
];
const DEFAULT_EXPIRY_SECS: u64 = 7 * 86_400;
const MIB: u64 = 1024 * 1024;

/// The card.
pub struct Requests {
    /// The card's element.
    pub root: Element,
    form: HtmlFormElement,
    name: HtmlInputElement,
    expiry: HtmlSelectElement,
    max_files: HtmlInputElement,
    max_mib: HtmlInputElement,
    note: HtmlTextAreaElement,
    create: HtmlButtonElement,
    result: Element,
    link: CopyLink,
    error: Element,
    tbody: Element,
    services: Rc<Services>,
    shell: Rc<Shell>,
}

fn field(label: &str, id: &str, input: &Element) -> El {
    El::new("div")
        .class("field")
        .child(El::new("label").attr("for", id).text(label))
        .child(input)
}

impl Requests {
    /// Builds the card and loads the requests.
    pub fn new(services: Rc<Services>, shell: Rc<Shell>) -> Rc<Requests> {
        let name: HtmlInputElement = El::new("input")
            .attr("id", "request-name")
            .attr("type", "text")
            .attr("required", "")
            .attr("maxlength", "200")
            .attr("placeholder", "e.g. tax-2026")
            .testid("request-name")
            .cast();
        let mut expiry = El::new("select").attr("id", "request-expiry");
        for (label, secs) in EXPIRY_CHOICES {
            let mut option = El::new("option")
                .attr("value", &secs.to_string())
                .text(label);
            if secs == DEFAULT_EXPIRY_SECS {
                option = option.attr("selected", "");
            }
            expiry = expiry.child(option);
        }
        let expiry: HtmlSelectElement = expiry.testid("request-expiry").cast();
        let number = |id: &str, value: &str| -> HtmlInputElement {
            El::new("input")
                .attr("id", id)
                .attr("type", "number")
                .attr("min", "1")
                .attr("inputmode", "numeric")
                .attr("value", value)
                .testid(id)
                .cast()
        };
        let max_files = number("request-max-files", "10");
        let max_mib = number("request-max-mib", "1024");
        let note: HtmlTextAreaElement = El::new("textarea")
            .attr("id", "request-note")
            .attr("maxlength", "1000")
            .attr("rows", "2")
            .testid("request-note")
            .cast();
        let create: HtmlButtonElement = El::new("button")
            .attr("type", "submit")
            .class("button primary")
            .testid("create-request")
            .text("Create request link")
            .cast();
        let form: HtmlFormElement = El::new("form")
            .class("share-form request-form")
            .testid("request-form")
            .child(field(
                "Name (files arrive in inbox/<name>/)",
                "request-name",
                name.as_ref(),
            ))
            .child(field(
                "Link takes files for",
                "request-expiry",
                expiry.as_ref(),
            ))
            .child(field("Most files", "request-max-files", max_files.as_ref()))
            .child(field(
                "Most megabytes in all",
                "request-max-mib",
                max_mib.as_ref(),
            ))
            .child(field(
                "Note for whoever uploads (optional)",
                "request-note",
                note.as_ref(),
            ))
            .child(&create)
            .cast();
        let link = CopyLink::new("request-link", "File request link", "request-link");
        let result = El::new("div")
            .class("share-result")
            .testid("request-result")
            .attr("hidden", "")
            .child(&link.root)
            .child(El::new("p").class("hint").text(
                "Anyone with this link can send files into that folder, encrypted in their \
                 browser, without an account; they cannot see anything in it. The part \
                 after # is the key to it: sealdrop shows it only now.",
            ))
            .build();
        let error = El::new("p")
            .class("dialog-error")
            .attr("role", "alert")
            .testid("request-error")
            .attr("hidden", "")
            .build();
        let tbody = El::new("tbody").build();
        let head = |label: &str| El::new("th").attr("scope", "col").text(label);
        let table = El::new("table")
            .class("objects")
            .child(
                El::new("caption")
                    .class("visually-hidden")
                    .text("Your file requests"),
            )
            .child(
                El::new("thead").child(
                    El::new("tr")
                        .child(head("Name"))
                        .child(head("Status"))
                        .child(head("Files"))
                        .child(head("Received"))
                        .child(head("Expires"))
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
            .attr("aria-labelledby", "requests-title")
            .testid("requests")
            .child(
                El::new("div").class("section-head").child(
                    El::new("h2")
                        .attr("id", "requests-title")
                        .text("Request files"),
                ),
            )
            .child(&form)
            .child(&error)
            .child(&result)
            .child(El::new("div").class("table-scroll").child(table))
            .build();
        let view = Rc::new(Requests {
            root,
            form,
            name,
            expiry,
            max_files,
            max_mib,
            note,
            create,
            result,
            link,
            error,
            tbody,
            services,
            shell,
        });
        let weak = Rc::downgrade(&view);
        dom::listen(&view.form, "submit", move |event| {
            event.prevent_default();
            if let Some(view) = weak.upgrade() {
                view.submit();
            }
        });
        let weak = Rc::downgrade(&view);
        dom::listen(&view.tbody, "click", move |event| {
            let (Some(_), Some(view)) = (
                dom::closest(&event, "button[data-action=close-request]"),
                weak.upgrade(),
            ) else {
                return;
            };
            if let Some(id) =
                dom::closest(&event, "tr[data-request]").and_then(|r| dom::data(&r, "request"))
            {
                view.close(id);
            }
        });
        view.refresh();
        view
    }

    fn submit(self: &Rc<Self>) {
        let number = |input: &HtmlInputElement| input.value().trim().parse::<u64>().ok();
        let (Some(max_files), Some(max_mib)) = (number(&self.max_files), number(&self.max_mib))
        else {
            self.fail("Most files and most megabytes are whole numbers of at least 1.");
            return;
        };
        let note = self.note.value();
        let request = CreateFileRequest {
            name: self.name.value().trim().to_owned(),
            expires_in_secs: self.expiry.value().parse().ok(),
            max_files: u32::try_from(max_files).ok(),
            max_bytes: max_mib.checked_mul(MIB),
            note: (!note.trim().is_empty()).then_some(note),
        };
        self.create.set_disabled(true);
        dom::set_hidden(&self.error, true);
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let created = view
                .services
                .api
                .call(calls::create_file_request(&request))
                .await;
            view.create.set_disabled(false);
            match created {
                Ok(created) => {
                    let link = RequestLink::new(&link_base(), &created.request.id, &created.secret);
                    dom::set_hidden(&view.result, false);
                    view.link.set(&link.to_url());
                    view.form.reset();
                    view.shell.announce("File request link created.");
                    view.refresh();
                }
                Err(error) => view.fail(&error.message()),
            }
        });
    }

    fn fail(&self, message: &str) {
        dom::set_text(&self.error, message);
        dom::set_hidden(&self.error, false);
    }

    /// Reloads the list.
    pub fn refresh(self: &Rc<Self>) {
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match view.services.api.call(calls::list_file_requests()).await {
                Ok(list) => view.render(&list.requests),
                Err(error) => view
                    .shell
                    .show_error(&format!("Could not list your file requests. {error}")),
            }
        });
    }

    fn render(&self, requests: &[FileRequestSummary]) {
        dom::clear(&self.tbody);
        for request in requests {
            let status = match request.status {
                FileRequestStatus::Open => "open",
                FileRequestStatus::Expired => "expired",
                FileRequestStatus::Closed => "closed",
            };
            let mut actions = El::new("td").class("row-actions");
            if request.status == FileRequestStatus::Open {
                actions = actions.child(
                    El::new("button")
                        .attr("type", "button")
                        .class("button small")
                        .attr("data-action", "close-request")
                        .testid("close-request")
                        .attr("aria-label", &format!("Close the request {}", request.name))
                        .text("Close"),
                );
            }
            let row = El::new("tr")
                .testid("request-row")
                .attr("data-request", &request.id)
                .attr("data-status", status)
                .attr("data-files", &request.files.to_string())
                .child(
                    El::new("th")
                        .attr("scope", "row")
                        .class("name")
                        .text(&request.prefix),
                )
                .child(El::new("td").text(status))
                .child(
                    El::new("td")
                        .class("num")
                        .text(&format!("{}/{}", request.files, request.max_files)),
                )
                .child(
                    El::new("td")
                        .class("num")
                        .text(&format::bytes(request.bytes)),
                )
                .child(
                    El::new("td")
                        .class("date")
                        .text(&format::date(&request.expires_at)),
                )
                .child(actions)
                .build();
            let _ = self.tbody.append_child(&row);
        }
    }

    fn close(self: &Rc<Self>, id: String) {
        let view = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match view
                .services
                .api
                .call(calls::close_file_request(&CloseFileRequest { id }))
                .await
            {
                Ok(()) => {
                    view.shell.announce("The file request was closed.");
                    view.refresh();
                }
                Err(error) => view
                    .shell
                    .show_error(&format!("Could not close the request. {error}")),
            }
        });
    }
}
