//! The sign-in form.

use web_sys::{Element, HtmlButtonElement, HtmlInputElement};

use super::dom::El;

/// The sign-in view.
pub struct SignIn {
    /// The view's root.
    pub root: Element,
    /// The form (its `submit` is wired by the app).
    pub form: Element,
    /// The token field.
    pub token: HtmlInputElement,
    button: HtmlButtonElement,
}

impl SignIn {
    /// Builds the view (not yet attached).
    pub fn new() -> SignIn {
        let token: HtmlInputElement = El::new("input")
            .attr("id", "token")
            .attr("name", "token")
            .attr("type", "password")
            .attr("autocomplete", "off")
            .attr("spellcheck", "false")
            .attr("required", "")
            .attr("aria-describedby", "token-hint")
            .testid("token-input")
            .cast();
        let button: HtmlButtonElement = El::new("button")
            .attr("type", "submit")
            .class("button primary")
            .testid("sign-in")
            .text("Sign in")
            .cast();
        let form = El::new("form")
            .class("signin-form")
            .attr("novalidate", "")
            .child(El::new("label").attr("for", "token").text("Access token"))
            .child(
                El::new("div")
                    .class("signin-row")
                    .child(&token)
                    .child(&button),
            )
            .child(El::new("p").class("hint").attr("id", "token-hint").text(
                "The token stays in this browser tab only and is forgotten when you close it.",
            ))
            .build();
        let root = El::new("section")
            .class("card signin")
            .attr("aria-labelledby", "signin-title")
            .child(
                El::new("h1")
                    .attr("id", "signin-title")
                    .text("Sign in to sealdrop"),
            )
            .child(
                El::new("p")
                    .text_child("Open the login link that ")
                    .child(El::new("code").text("sealdrop serve"))
                    .text_child(" printed, or paste its access token here."),
            )
            .child(&form)
            .build();
        SignIn {
            root,
            form,
            token,
            button,
        }
    }

    /// The token typed in.
    pub fn token_value(&self) -> String {
        self.token.value().trim().to_owned()
    }

    /// Disables the form while a sign-in is being checked.
    pub fn set_busy(&self, busy: bool) {
        self.button.set_disabled(busy);
        self.token.set_read_only(busy);
        self.button
            .set_text_content(Some(if busy { "Signing in…" } else { "Sign in" }));
    }

    /// Prepares the form for a new attempt and focuses the field.
    pub fn reset(&self) {
        self.token.set_value("");
        self.set_busy(false);
        let _ = self.token.focus();
    }
}

impl Default for SignIn {
    fn default() -> Self {
        Self::new()
    }
}
