//! The recipient's page of a share link, `/s/<id>#<secret>`: no account, no
//! token. It says who shared which files until when, and downloads each file
//! through the app's own verified path ([`download::download_opened`]):
//! decrypted in a worker and handed to the browser only once it authenticated.
//! The secret stays in the fragment (never sent in a URL); it goes to the
//! broker in the body of the two public calls.

use std::cell::RefCell;
use std::rc::Rc;

use sealdrop_api::{PublicShare, PublicSharedFile};
use sealdrop_transfer::{FailureKind, LinkError, ShareLink, calls};
use web_sys::{Element, HtmlButtonElement, HtmlProgressElement};

use super::badge;
use super::dom::{self, El};
use super::format;
use super::shell::Shell;
use crate::api::Api;
use crate::download;
use crate::pool::WorkerPool;
use crate::tuning;

/// The share link in this page's address, if the page is one.
pub fn link_in_address_bar() -> Option<Result<ShareLink, String>> {
    link_at(sealdrop_api::routes::SHARE_PAGE, ShareLink::parse)
}

/// The link in this page's address read with `parse`, if the page's path is
/// under `page` (`/s/`, `/r/`); what is wrong with it otherwise.
pub(super) fn link_at<T>(
    page: &str,
    parse: impl Fn(&str) -> Result<T, LinkError>,
) -> Option<Result<T, String>> {
    let location = web_sys::window()?.location();
    if !location.pathname().ok()?.contains(page) {
        return None;
    }
    let href = location.href().ok()?;
    Some(parse(&href).map_err(|e| e.to_string()))
}

/// The page.
pub struct SharePage {
    api: Api,
    link: ShareLink,
    shell: Rc<Shell>,
    summary: Element,
    note: Element,
    files: Element,
    ended: Element,
    /// Started at the first download, then reused.
    pool: RefCell<Option<Rc<WorkerPool>>>,
}

impl SharePage {
    /// Shows the page for `link` (or what is wrong with it) in the shell.
    pub fn show(shell: Rc<Shell>, api_base: &str, link: Result<ShareLink, String>) {
        dom::clear(&shell.main);
        let summary = El::new("p")
            .class("share-summary")
            .testid("share-summary")
            .build();
        let note = El::new("blockquote")
            .class("share-note")
            .testid("share-note")
            .attr("hidden", "")
            .build();
        let files = El::new("ul").class("shared-files").build();
        let ended = El::new("p")
            .class("share-ended")
            .attr("role", "alert")
            .testid("share-ended")
            .attr("hidden", "")
            .build();
        let card = El::new("section")
            .class("card share-page")
            .attr("aria-labelledby", "share-page-title")
            .testid("share-page")
            .child(
                El::new("h1")
                    .attr("id", "share-page-title")
                    .text("Files shared with you"),
            )
            .child(&summary)
            .child(&note)
            .child(&ended)
            .child(&files)
            .child(El::new("p").class("hint").text(
                "Files are decrypted in this browser and saved only after they are verified \
                 intact. No account is needed.",
            ))
            .build();
        let _ = shell.main.append_child(&card);
        let link = match link {
            Ok(link) => link,
            Err(why) => {
                dom::set_text(&ended, &why);
                dom::set_hidden(&ended, false);
                return;
            }
        };
        let page = Rc::new(SharePage {
            api: Api::new(api_base, "", Rc::new(|| {})),
            link,
            shell,
            summary,
            note,
            files,
            ended,
            pool: RefCell::new(None),
        });
        page.load();
    }

    /// Asks the broker what the link holds and shows it.
    fn load(self: &Rc<Self>) {
        let page = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let credentials = page.link.credentials();
            match page.api.call(calls::describe_share(&credentials)).await {
                Ok(share) => page.render(&share),
                Err(error) => page.end(&error.message()),
            }
        });
    }

    fn end(&self, message: &str) {
        dom::clear(&self.files);
        dom::set_hidden(&self.note, true);
        dom::set_text(&self.summary, "");
        dom::set_text(&self.ended, message);
        dom::set_hidden(&self.ended, false);
    }

    fn render(self: &Rc<Self>, share: &PublicShare) {
        dom::set_text(
            &self.summary,
            &format!(
                "{} shared {} with you, available until {}.",
                share.sender,
                match share.files.len() {
                    1 => "a file".to_owned(),
                    n => format!("{n} files"),
                },
                format::date(&share.expires_at)
            ),
        );
        match &share.note {
            Some(note) => {
                dom::set_text(&self.note, note);
                dom::set_hidden(&self.note, false);
            }
            None => dom::set_hidden(&self.note, true),
        }
        dom::clear(&self.files);
        for file in &share.files {
            let _ = self.files.append_child(&self.row(file));
        }
    }

    fn row(self: &Rc<Self>, file: &PublicSharedFile) -> Element {
        let left = match file.downloads_left {
            None => String::new(),
            Some(0) => "Download limit reached".to_owned(),
            Some(1) => "1 download left".to_owned(),
            Some(n) => format!("{n} downloads left"),
        };
        let status = El::new("span")
            .class("shared-status")
            .testid("shared-status")
            .attr("aria-live", "polite")
            .text(&left)
            .build();
        let progress: HtmlProgressElement = El::new("progress")
            .attr("max", "1")
            .attr("value", "0")
            .attr("hidden", "")
            .attr("aria-label", &format!("Downloading {}", file.name))
            .cast();
        let button: HtmlButtonElement = El::new("button")
            .attr("type", "button")
            .class("button primary small")
            .testid("download-shared")
            .attr("aria-label", &format!("Download {}", file.name))
            .text("Download")
            .cast();
        if file.downloads_left == Some(0) {
            button.set_disabled(true);
        }
        let (page, index, name) = (self.clone(), file.index, file.name.clone());
        let (on_status, on_progress, on_button) =
            (status.clone(), progress.clone(), button.clone());
        dom::listen(&button, "click", move |_| {
            page.download(
                index,
                name.clone(),
                on_button.clone(),
                on_progress.clone(),
                on_status.clone(),
            );
        });
        El::new("li")
            .class("shared-file")
            .testid("shared-file")
            .attr("data-name", &file.name)
            .child(
                El::new("div")
                    .class("shared-head")
                    .child(El::new("span").class("object-name").text(&file.name))
                    .child(El::new("span").class("num").text(&format::bytes(file.size)))
                    .child(badge::badge(file.mode)),
            )
            .child(
                El::new("div")
                    .class("shared-actions")
                    .child(&button)
                    .child(&progress)
                    .child(&status),
            )
            .build()
    }

    fn download(
        self: &Rc<Self>,
        index: u32,
        name: String,
        button: HtmlButtonElement,
        progress: HtmlProgressElement,
        status: Element,
    ) {
        button.set_disabled(true);
        dom::set_hidden(&progress, false);
        dom::set_text(&status, "Downloading…");
        let page = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = page.fetch(index, &name, &progress).await;
            dom::set_hidden(&progress, true);
            match result {
                Ok(()) => {
                    dom::set_text(&status, "Saved — verified intact");
                    page.shell.announce(&format!("{name} was saved."));
                    // The counts changed; a link that is used up says so.
                    page.load();
                }
                Err(message) => {
                    button.set_disabled(false);
                    dom::set_text(&status, &message);
                    page.shell.show_error(&message);
                }
            }
        });
    }

    async fn fetch(
        &self,
        index: u32,
        name: &str,
        progress: &HtmlProgressElement,
    ) -> Result<(), String> {
        let opened = self
            .api
            .call(calls::open_share(&self.link.open_request(index)))
            .await
            .map_err(|error| match error.kind {
                FailureKind::Ended | FailureKind::NotFound => {
                    self.end(&error.message());
                    error.message()
                }
                _ => error.message(),
            })?;
        let started = self.pool.borrow().clone();
        let pool = match started {
            Some(pool) => pool,
            None => {
                let pool = WorkerPool::start(tuning::WORKERS).await?;
                *self.pool.borrow_mut() = Some(pool.clone());
                pool
            }
        };
        let on_progress = |done: u64, total: u64| {
            if total > 0 {
                progress.set_value(done as f64 / total as f64);
            }
        };
        download::download_opened(&pool, opened, name, &on_progress)
            .await
            .map(drop)
    }
}
