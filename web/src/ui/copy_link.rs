//! A link to hand on: a read-only field that holds it and a copy button.

use web_sys::{Element, HtmlButtonElement, HtmlInputElement};

use super::dom::{self, El};

/// The field and its button.
pub struct CopyLink {
    /// The labelled field and button, to place in a view.
    pub root: Element,
    input: HtmlInputElement,
    copy: HtmlButtonElement,
}

impl CopyLink {
    /// A field labelled `label`, with test ids `<testid>` (the field) and
    /// `copy-<testid>` (the button).
    pub fn new(id: &str, label: &str, testid: &str) -> CopyLink {
        let input: HtmlInputElement = El::new("input")
            .attr("id", id)
            .attr("type", "text")
            .attr("readonly", "")
            .attr("spellcheck", "false")
            .testid(testid)
            .cast();
        let copy: HtmlButtonElement = El::new("button")
            .attr("type", "button")
            .class("button primary")
            .testid(&format!("copy-{testid}"))
            .text("Copy link")
            .cast();
        let root = El::new("div")
            .class("field")
            .child(El::new("label").attr("for", id).text(label))
            .child(El::new("div").class("copy-row").child(&input).child(&copy))
            .build();
        let (field, button) = (input.clone(), copy.clone());
        dom::listen(&copy, "click", move |_| {
            field.select();
            let copied = web_sys::window()
                .map(|w| w.navigator().clipboard())
                .map(|clipboard| clipboard.write_text(&field.value()));
            dom::set_text(
                &button,
                if copied.is_some() {
                    "Copied"
                } else {
                    "Select and copy"
                },
            );
        });
        CopyLink { root, input, copy }
    }

    /// Shows `link` (selected, ready to copy).
    pub fn set(&self, link: &str) {
        self.input.set_value(link);
        dom::set_text(&self.copy, "Copy link");
        self.input.select();
    }

    /// Empties the field.
    pub fn clear(&self) {
        self.input.set_value("");
        dom::set_text(&self.copy, "Copy link");
    }
}
