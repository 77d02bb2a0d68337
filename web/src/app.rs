//! The app: sign-in, the signed-in workspace, sign-out.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use web_sys::Element;

use crate::api::Api;
use crate::config::{self, Config};
use crate::opfs;
use crate::services::Services;
use crate::session;
use crate::ui::dom::{self, El};
use crate::ui::objects::Objects;
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
}

thread_local! {
    /// The app lives as long as the page; its listeners hold weak references.
    static RUNNING: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

/// The running app.
pub struct App {
    config: Config,
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
    let app = Rc::new(App {
        config,
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
    match session::take_from_address_bar().or_else(session::stored) {
        Some(token) => app.sign_in(token),
        None => app.show_sign_in(),
    }
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
        // the fragment: no reload, so watch for it.
        if let Some(window) = web_sys::window() {
            let app = Rc::downgrade(self);
            dom::listen(&window, "hashchange", move |_| {
                if let (Some(app), Some(token)) = (app.upgrade(), session::take_from_address_bar())
                {
                    app.sign_out(None);
                    app.sign_in(token);
                }
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
                    app.open_workspace(Services::new(api, me));
                }
                Err(error) => {
                    session::clear();
                    app.show_sign_in();
                    let message = match error.kind {
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
        let objects = Objects::new(services.clone(), self.shell.clone());
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
            .build();
        dom::clear(&self.shell.main);
        let _ = self.shell.main.append_child(&root);
        self.shell.set_user(Some(&services.me.user));
        *self.workspace.borrow_mut() = Some(Workspace {
            root,
            uploads,
            _uploader: uploader,
            _objects: objects,
        });
    }

    /// Leaves the workspace: cancels transfers, forgets the token and staged
    /// downloads, and shows the sign-in form (with `message`, if any).
    fn sign_out(&self, message: Option<&str>) {
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
        if let Some(message) = message {
            self.shell.show_error(message);
        }
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
