//! The page frame: header with the account, the error banner, a polite live
//! region for progress announcements, and the main area the views live in.

use web_sys::{Element, HtmlButtonElement};

use super::dom::{self, El};

/// The frame's elements.
pub struct Shell {
    /// Where the current view goes.
    pub main: Element,
    /// The sign-out button (wired by the app).
    pub sign_out: HtmlButtonElement,
    account: Element,
    who: Element,
    banner: Element,
    banner_text: Element,
    status: Element,
}

impl Shell {
    /// Builds the frame into `root` (replacing the loading message).
    pub fn mount(root: &Element) -> Shell {
        dom::clear(root);
        let who = El::new("strong").build();
        let sign_out: HtmlButtonElement = El::new("button")
            .attr("type", "button")
            .class("button quiet")
            .testid("sign-out")
            .text("Sign out")
            .cast();
        let account = El::new("div")
            .class("account")
            .attr("hidden", "")
            .child(
                El::new("span")
                    .class("who")
                    .text_child("Signed in as ")
                    .child(&who),
            )
            .child(&sign_out)
            .build();
        let header = El::new("header")
            .class("topbar")
            .child(
                El::new("div")
                    .class("brand")
                    .child(
                        El::new("span")
                            .class("brand-mark")
                            .attr("aria-hidden", "true"),
                    )
                    .child(El::new("span").class("brand-name").text("sealdrop")),
            )
            .child(&account);

        let banner_text = El::new("p").class("banner-text").testid("error").build();
        let banner = El::new("div")
            .class("banner")
            .attr("role", "alert")
            .attr("hidden", "")
            .child(&banner_text)
            .build();
        let dismiss = El::new("button")
            .attr("type", "button")
            .class("button quiet banner-close")
            .attr("aria-label", "Dismiss this message")
            .testid("dismiss-error")
            .text("Dismiss");
        let to_hide = banner.clone();
        let dismiss = dismiss.on("click", move |_| dom::set_hidden(&to_hide, true));
        let _ = banner.append_child(dismiss.as_ref());

        let status = El::new("div")
            .class("visually-hidden")
            .attr("aria-live", "polite")
            .testid("status")
            .build();
        let main = El::new("main").attr("id", "main").class("content").build();
        let footer = El::new("footer").class("footer").child(El::new("p").text(
            "Client-side encryption happens in this browser, in the S3 Encryption Client format. \
             Data keys come from the server's key service and are forgotten after each transfer.",
        ));
        for part in [
            header.as_ref(),
            banner.as_ref(),
            status.as_ref(),
            main.as_ref(),
            footer.as_ref(),
        ] {
            let _ = root.append_child(part);
        }
        Shell {
            main,
            sign_out,
            account,
            who,
            banner,
            banner_text,
            status,
        }
    }

    /// Shows who is signed in (or nobody).
    pub fn set_user(&self, user: Option<&str>) {
        dom::set_text(&self.who, user.unwrap_or_default());
        dom::set_hidden(&self.account, user.is_none());
    }

    /// Shows an error message (replacing the previous one).
    pub fn show_error(&self, message: &str) {
        dom::set_text(&self.banner_text, message);
        dom::set_hidden(&self.banner, false);
    }

    /// Hides the error message.
    pub fn clear_error(&self) {
        dom::set_hidden(&self.banner, true);
        dom::set_text(&self.banner_text, "");
    }

    /// Tells screen reader users about a change that has no focus of its own.
    pub fn announce(&self, message: &str) {
        dom::set_text(&self.status, message);
    }
}
