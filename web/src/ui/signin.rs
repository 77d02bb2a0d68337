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
    /// "Sign in with …" (single sign-on); shown when the broker offers it.
    pub sso: HtmlButtonElement,
    sso_block: Element,
    intro: Element,
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
        let sso: HtmlButtonElement = El::new("button")
            .attr("type", "button")
            .class("button primary")
            .testid("sso-sign-in")
            .text("Sign in with single sign-on")
            .cast();
        let sso_block = El::new("div")
            .class("signin-sso")
            .attr("hidden", "")
            .child(&sso)
            .child(El::new("p").class("hint").text("Or use an access token:"))
            .build();
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
        let intro = El::new("p")
            .text_child("Open the login link that ")
            .child(El::new("code").text("sealdrop serve"))
            .text_child(" printed, or paste its access token here.")
            .build();
        let root = El::new("section")
            .class("card signin")
            .attr("aria-labelledby", "signin-title")
            .child(
                El::new("h1")
                    .attr("id", "signin-title")
                    .text("Sign in to sealdrop"),
            )
            .child(&intro)
            .child(&sso_block)
            .child(&form)
            .build();
        SignIn {
            root,
            form,
            token,
            sso,
            sso_block,
            intro,
            button,
        }
    }

    /// Offers single sign-on with the provider at `issuer`.
    pub fn offer_sso(&self, issuer: &str) {
        let provider = web_sys::Url::new(issuer)
            .map(|url| url.host())
            .unwrap_or_else(|_| issuer.to_owned());
        self.sso
            .set_text_content(Some(&format!("Sign in with {provider}")));
        let _ = self.sso_block.remove_attribute("hidden");
        self.intro.set_text_content(Some(
            "Sign in with your organization's account, or with a login link or access token \
             from your administrator.",
        ));
    }

    /// The token typed in.
    pub fn token_value(&self) -> String {
        self.token.value().trim().to_owned()
    }

    /// Disables the form while a sign-in is being checked.
    pub fn set_busy(&self, busy: bool) {
        self.button.set_disabled(busy);
        self.sso.set_disabled(busy);
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
