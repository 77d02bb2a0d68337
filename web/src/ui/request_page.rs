//! The uploader's page of a file request, `/r/<id>#<secret>`: no account.
//! It says who asks for files, how many and how much the link still takes,
//! and uploads through the app's own upload card and queue (client-side
//! encrypted by default, per-file progress, pause and retry) with the link's
//! credential. Each stored file gets a receipt line: its name, size and the
//! SHA-256 of what was sent, computed in this browser.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use js_sys::Uint8Array;
use sealdrop_api::PublicFileRequest;
use sealdrop_transfer::{RequestLink, calls};
use sha2::{Digest, Sha256};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, File};

use super::dom::{self, El};
use super::format;
use super::shell::Shell;
use super::uploader::Uploader;
use crate::api::Api;
use crate::services::Services;
use crate::upload::{Change, State, UploadQueue};

/// Bytes hashed per slice of a file for its receipt.
const HASH_SLICE: f64 = 4.0 * 1024.0 * 1024.0;

/// The file request link in this page's address, if the page is one.
pub fn link_in_address_bar() -> Option<Result<RequestLink, String>> {
    super::share_page::link_at(sealdrop_api::routes::REQUEST_PAGE, RequestLink::parse)
}

/// The page: what the request is, the upload card, the receipt.
pub struct RequestPage {
    _uploader: Rc<Uploader>,
    _queue: Rc<UploadQueue>,
}

thread_local! {
    /// The page lives as long as the tab.
    static PAGE: RefCell<Option<RequestPage>> = const { RefCell::new(None) };
}

/// Shows the page for `link` (or what is wrong with it).
pub fn show(shell: Rc<Shell>, api_base: &str, link: Result<RequestLink, String>) {
    dom::clear(&shell.main);
    let summary = El::new("p")
        .class("share-summary")
        .testid("request-summary")
        .build();
    let note = El::new("blockquote")
        .class("share-note")
        .testid("request-note")
        .attr("hidden", "")
        .build();
    let ended = El::new("p")
        .class("share-ended")
        .attr("role", "alert")
        .testid("request-ended")
        .attr("hidden", "")
        .build();
    let intro = El::new("section")
        .class("card share-page")
        .attr("aria-labelledby", "request-page-title")
        .testid("request-page")
        .child(
            El::new("h1")
                .attr("id", "request-page-title")
                .text("Send files"),
        )
        .child(&summary)
        .child(&note)
        .child(&ended)
        .child(El::new("p").class("hint").text(
            "Files are encrypted in this browser before they leave it. You can send \
             files, not see, list or change anything already there. No account is needed.",
        ))
        .build();
    let _ = shell.main.append_child(&intro);
    let end = move |message: &str| {
        dom::set_text(&ended, message);
        dom::set_hidden(&ended, false);
    };
    let link = match link {
        Ok(link) => link,
        Err(why) => return end(&why),
    };
    let describer = Api::new(api_base, "", Rc::new(|| {}));
    let api_base = api_base.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        let request = match describer
            .call(calls::describe_file_request(&link.credentials()))
            .await
        {
            Ok(request) => request,
            Err(error) => return end(&error.message()),
        };
        dom::set_text(&summary, &describe(&request));
        if let Some(text) = &request.note {
            dom::set_text(&note, text);
            dom::set_hidden(&note, false);
        }
        let api = Api::new(&api_base, &link.bearer(), Rc::new(|| {}));
        let services = Services::new(api, request.recipient.clone(), request.limits);
        let page = mount(&shell, services);
        PAGE.with_borrow_mut(|slot| *slot = Some(page));
    });
}

fn describe(request: &PublicFileRequest) -> String {
    format!(
        "{} asks you for files ({}): up to {} more file(s), {} in all, until {}.",
        request.recipient,
        request.name,
        request.files_left,
        format::bytes(request.bytes_left),
        format::date(&request.expires_at)
    )
}

/// The upload card on the queue, and the receipt below it.
fn mount(shell: &Rc<Shell>, services: Rc<Services>) -> RequestPage {
    let uploader = Uploader::new(shell.clone());
    let receipt_list = El::new("ul").class("receipt").build();
    let receipt = El::new("section")
        .class("card")
        .attr("aria-labelledby", "receipt-title")
        .testid("receipt")
        .attr("hidden", "")
        .child(El::new("h2").attr("id", "receipt-title").text("Receipt"))
        .child(El::new("p").class("hint").text(
            "What was received, with the SHA-256 of each file as this browser sent it. \
             Keep it for your records.",
        ))
        .child(&receipt_list)
        .build();
    let receipted = Rc::new(RefCell::new(HashSet::new()));
    let weak = Rc::downgrade(&uploader);
    let (shell_for_errors, receipt_card) = (shell.clone(), receipt.clone());
    let queue = UploadQueue::new(
        services,
        Box::new(move |change| match change {
            Change::Row(upload) => {
                if let Some(uploader) = weak.upgrade() {
                    uploader.render(&upload);
                }
                if let State::Done { key } = upload.state()
                    && receipted.borrow_mut().insert(upload.id)
                {
                    dom::set_hidden(&receipt_card, false);
                    let list = receipt_list.clone();
                    let file = upload.file.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let line = receipt_line(&key, &file).await;
                        let _ = list.append_child(&line);
                    });
                }
            }
            Change::Stored => {}
            Change::Error(message) => shell_for_errors.show_error(&message),
        }),
    );
    uploader.attach(&queue);
    let _ = shell.main.append_child(&uploader.root);
    let _ = shell.main.append_child(&receipt);
    RequestPage {
        _uploader: uploader,
        _queue: queue,
    }
}

/// One receipt line: stored name, size, SHA-256 of the file (read in slices).
async fn receipt_line(key: &str, file: &File) -> Element {
    let name = key.rsplit('/').next().unwrap_or(key);
    let digest = match sha256(file).await {
        Ok(digest) => digest,
        Err(why) => format!("(could not be computed: {why})"),
    };
    El::new("li")
        .class("receipt-row")
        .testid("receipt-row")
        .attr("data-name", name)
        .attr("data-sha256", &digest)
        .child(El::new("span").class("object-name").text(name))
        .child(
            El::new("span")
                .class("num")
                .text(&format::bytes(file.size() as u64)),
        )
        .child(
            El::new("code")
                .class("wrap")
                .text(&format!("SHA-256 {digest}")),
        )
        .build()
}

async fn sha256(file: &File) -> Result<String, String> {
    let mut hash = Sha256::new();
    let size = file.size();
    let mut offset = 0.0;
    while offset < size {
        let end = (offset + HASH_SLICE).min(size);
        let slice = file
            .slice_with_f64_and_f64(offset, end)
            .map_err(|e| crate::js::describe(&e))?;
        let buffer = JsFuture::from(slice.array_buffer())
            .await
            .map_err(|e| crate::js::describe(&e))?;
        hash.update(Uint8Array::new(&buffer).to_vec());
        offset = end;
    }
    Ok(hex_lower(&hash.finalize()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
