//! The app: sign-in, the signed-in workspace, sign-out.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use web_sys::Element;

use crate::api::Api;
use crate::config::{self, Config};
use crate::opfs;
use crate::services::Services;
use crate::session;
use crate::sso;
use crate::ui::dom::{self, El};
use crate::ui::objects::Objects;
use crate::ui::requests::Requests;
use crate::ui::sharing::{ShareDialog, ShareList};
use crate::ui::shell::Shell;
use crate::ui::signin::SignIn;
use crate::ui::uploader::Uploader;
use crate::upload::{Change, UploadQueue};
use sealdrop_transfer::FailureKind;
use sealdrop_transfer::calls;

/// Staging files older than this are leftovers of a closed tab.
const STALE_STAGING_MS: f64 = 15.0 * 60.0 * 1000.0;

const EXPIRED: &str =
    "Your session has expired or the token is no longer valid. Please sign in again.";

/// The signed-in part of the page.
struct Workspace {
    root: Element,
    uploads: Rc<UploadQueue>,
    _uploader: Rc<Uploader>,
    _objects: Rc<Objects>,
    _shares: Rc<ShareList>,
    _requests: Rc<Requests>,
}

thread_local! {
    /// The app lives as long as the page; its listeners hold weak references.
    static RUNNING: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

/// Asked before a login link replaces the account signed in (a link someone
/// else made would otherwise sign this tab into their account unnoticed).
const SWITCH_ACCOUNTS: &str = "You opened a login link while signed in. Sign out of the \
     current account and sign in with the link?";

/// The running app.
pub struct App {
    config: Config,
    /// Single sign-on, when the broker offers it.
    oidc: Option<sealdrop_api::OidcConfig>,
    shell: Rc<Shell>,
    signin: SignIn,
    workspace: RefCell<Option<Workspace>>,
}

/// Starts the app in `#app`.
pub async fn start() {
    let Some(root) = dom::document().get_element_by_id("app") else {
        return;
    };
    let shell = Rc::new(Shell::mount(&root));
    let config = config::load().await;
    // A share link's page needs no account: it is all this tab shows.
    if let Some(link) = crate::ui::share_page::link_in_address_bar() {
        crate::ui::share_page::SharePage::show(shell, &config.api_base, link);
        return;
    }
    // So does a file request's.
    if let Some(link) = crate::ui::request_page::link_in_address_bar() {
        crate::ui::request_page::show(shell, &config.api_base, link);
        return;
    }
    let oidc = Api::new(&config.api_base, "", Rc::new(|| {}))
        .call(calls::public_config())
        .await
        .ok()
        .and_then(|public| public.oidc);
    let app = Rc::new(App {
        config,
        oidc,
        shell,
        signin: SignIn::new(),
        workspace: RefCell::new(None),
    });
    app.wire();
    RUNNING.with_borrow_mut(|running| *running = Some(app.clone()));
    wasm_bindgen_futures::spawn_local(async {
        if let Err(error) = opfs::sweep(STALE_STAGING_MS).await {
            dom::log_error("sealdrop: could not clean up old downloads", &error);
        }
    });
    if let Some(callback) = sso::take_callback() {
        app.finish_sso(callback);
        return;
    }
    let stored = session::stored();
    let token = match (session::take_from_address_bar(), stored) {
        (Some(link), Some(current)) if link != current => {
            if confirm(SWITCH_ACCOUNTS) {
                sso::end(None);
                Some(link)
            } else {
                Some(current)
            }
        }
        (link, stored) => link.or(stored),
    };
    match token {
        Some(token) => app.sign_in(token),
        None => app.show_sign_in(),
    }
}

/// Asks a yes/no question in the browser's own dialog.
fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}

impl App {
    fn wire(self: &Rc<Self>) {
        let app = Rc::downgrade(self);
        dom::listen(&self.signin.form, "submit", move |event| {
            event.prevent_default();
            let Some(app) = app.upgrade() else { return };
            let token = app.signin.token_value();
            if token.is_empty() {
                app.shell.show_error("Enter your access token.");
                let _ = app.signin.token.focus();
            } else {
                app.sign_in(token);
            }
        });
        // A login link opened in a tab that already shows the app only changes
        // the fragment: no reload, so watch for it. Someone signed in is asked
        // first.
        if let Some(window) = web_sys::window() {
            let app = Rc::downgrade(self);
            dom::listen(&window, "hashchange", move |_| {
                let (Some(app), Some(token)) = (app.upgrade(), session::take_from_address_bar())
                else {
                    return;
                };
                let signed_in = app.workspace.borrow().is_some();
                if signed_in && !confirm(SWITCH_ACCOUNTS) {
                    return;
                }
                app.sign_out_locally();
                // The link's session is a local one, whatever this tab had.
                sso::end(None);
                app.sign_in(token);
            });
        }
        if let Some(oidc) = &self.oidc {
            self.signin.offer_sso(&oidc.issuer);
            let app = Rc::downgrade(self);
            dom::listen(&self.signin.sso, "click", move |_| {
                let Some(app) = app.upgrade() else { return };
                let Some(oidc) = app.oidc.clone() else { return };
                app.signin.set_busy(true);
                app.shell.clear_error();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(why) = sso::start(&oidc).await {
                        app.signin.set_busy(false);
                        app.shell.show_error(&why);
                    }
                });
            });
        }
        let app = Rc::downgrade(self);
        dom::listen(&self.shell.sign_out, "click", move |_| {
            if let Some(app) = app.upgrade() {
                app.sign_out(None);
            }
        });
    }

    fn show_sign_in(&self) {
        dom::clear(&self.shell.main);
        let _ = self.shell.main.append_child(&self.signin.root);
        self.shell.set_user(None);
        self.signin.reset();
    }

    /// Completes a single sign-on the provider sent the browser back from.
    fn finish_sso(self: &Rc<Self>, callback: String) {
        self.show_sign_in();
        self.signin.set_busy(true);
        let app = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match sso::finish(&callback).await {
                Ok(token) => app.sign_in(token.to_string()),
                Err(why) => {
                    app.signin.set_busy(false);
                    app.shell.show_error(&why);
                }
            }
        });
    }

    fn sign_in(self: &Rc<Self>, token: String) {
        if self.signin.root.is_connected() {
            self.signin.set_busy(true);
        } else {
            dom::clear(&self.shell.main);
            let _ = self
                .shell
                .main
                .append_child(El::new("p").class("loading").text("Signing in…").as_ref());
        }
        let weak = Rc::downgrade(self);
        let on_unauthenticated: Rc<dyn Fn()> = Rc::new(move || expire(&weak));
        let api = Api::new(&self.config.api_base, &token, on_unauthenticated);
        let app = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match api.call(calls::me()).await {
                Ok(me) => {
                    session::store(&token);
                    app.shell.clear_error();
                    app.open_workspace(Services::new(api, me.user, me.limits));
                }
                Err(error) => {
                    session::clear();
                    let single_sign_on = sso::active();
                    sso::end(None);
                    app.show_sign_in();
                    let message = match error.kind {
                        // The broker says why an identity gets no session.
                        FailureKind::Unauthenticated if single_sign_on => {
                            format!("You signed in at the provider, but {}.", error.detail)
                        }
                        FailureKind::Unauthenticated => {
                            "That token was not accepted — it may be mistyped, expired or revoked."
                                .to_owned()
                        }
                        _ => error.to_string(),
                    };
                    app.shell.show_error(&message);
                }
            }
        });
    }

    fn open_workspace(self: &Rc<Self>, services: Rc<Services>) {
        let uploader = Uploader::new(self.shell.clone());
        let shares = ShareList::new(services.clone(), self.shell.clone());
        let requests = Requests::new(services.clone(), self.shell.clone());
        let share_dialog = ShareDialog::new(services.clone(), self.shell.clone(), shares.clone());
        let objects = Objects::new(services.clone(), self.shell.clone(), share_dialog);
        let (weak_uploader, weak_objects, shell) = (
            Rc::downgrade(&uploader),
            Rc::downgrade(&objects),
            self.shell.clone(),
        );
        let uploads = UploadQueue::new(
            services.clone(),
            Box::new(move |change| match change {
                Change::Row(upload) => {
                    if let Some(uploader) = weak_uploader.upgrade() {
                        uploader.render(&upload);
                    }
                }
                Change::Stored => {
                    if let Some(objects) = weak_objects.upgrade() {
                        objects.refresh();
                    }
                }
                Change::Error(message) => shell.show_error(&message),
            }),
        );
        uploader.attach(&uploads);
        let root = El::new("div")
            .class("workspace")
            .child(&uploader.root)
            .child(&objects.root)
            .child(&shares.root)
            .child(&requests.root)
            .build();
        dom::clear(&self.shell.main);
        let _ = self.shell.main.append_child(&root);
        self.shell.set_user(Some(&services.user));
        *self.workspace.borrow_mut() = Some(Workspace {
            root,
            uploads,
            _uploader: uploader,
            _objects: objects,
            _shares: shares,
            _requests: requests,
        });
    }

    /// Leaves the workspace (see [`Self::sign_out_locally`]); after single
    /// sign-on, also ends the provider's session when it supports that.
    fn sign_out(&self, message: Option<&str>) {
        let token = session::stored();
        self.sign_out_locally();
        if let Some(message) = message {
            self.shell.show_error(message);
        }
        // An expired session keeps the provider's: signing in again is a click.
        if message.is_none()
            && let Some(url) = sso::end(token.as_deref())
            && let Some(window) = web_sys::window()
        {
            let _ = window.location().assign(&url);
        } else {
            sso::end(None);
        }
    }

    /// Cancels transfers, forgets the token and staged downloads, and shows
    /// the sign-in form.
    fn sign_out_locally(&self) {
        if let Some(workspace) = self.workspace.borrow_mut().take() {
            workspace.uploads.cancel_all();
            workspace.root.remove();
        }
        session::clear();
        wasm_bindgen_futures::spawn_local(async {
            let _ = opfs::sweep(0.0).await;
        });
        self.shell.clear_error();
        self.show_sign_in();
    }
}

/// A 401 during the session: back to sign-in, once, outside the failing call.
fn expire(app: &Weak<App>) {
    let Some(app) = app.upgrade() else { return };
    if app.workspace.borrow().is_none() {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        app.sign_out(Some(EXPIRED));
    });
}
