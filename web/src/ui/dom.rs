//! A small builder over web-sys, so views read like the markup they make.
//! No `style` attributes anywhere: the page runs under `style-src 'self'`.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Event, EventTarget, HtmlElement};

/// The page's document.
pub fn document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .unwrap_or_else(|| wasm_bindgen::throw_str("sealdrop needs a document"))
}

/// An element under construction.
pub struct El(Element);

impl El {
    /// A new `<tag>`.
    pub fn new(tag: &str) -> El {
        El(document()
            .create_element(tag)
            .unwrap_or_else(|_| wasm_bindgen::throw_str("invalid element name")))
    }

    /// Adds CSS classes (space separated).
    pub fn class(self, classes: &str) -> El {
        for class in classes.split_whitespace() {
            let _ = self.0.class_list().add_1(class);
        }
        self
    }

    /// Sets an attribute.
    pub fn attr(self, name: &str, value: &str) -> El {
        let _ = self.0.set_attribute(name, value);
        self
    }

    /// Sets `data-testid`, the stable hook of end-to-end tests.
    pub fn testid(self, id: &str) -> El {
        self.attr("data-testid", id)
    }

    /// Sets the text content.
    pub fn text(self, text: &str) -> El {
        self.0.set_text_content(Some(text));
        self
    }

    /// Appends a child.
    pub fn child(self, child: impl AsRef<web_sys::Node>) -> El {
        let _ = self.0.append_child(child.as_ref());
        self
    }

    /// Appends a text node.
    pub fn text_child(self, text: &str) -> El {
        let _ = self.0.append_child(&document().create_text_node(text));
        self
    }

    /// Calls `handler` on `event` (for elements that live as long as the page).
    pub fn on(self, event: &str, handler: impl FnMut(Event) + 'static) -> El {
        listen(&self.0, event, handler);
        self
    }

    /// The element.
    pub fn build(self) -> Element {
        self.0
    }

    /// The element as an `HtmlElement`.
    pub fn html(self) -> HtmlElement {
        self.0.unchecked_into()
    }

    /// The element as a more specific type.
    pub fn cast<T: JsCast>(self) -> T {
        self.0.unchecked_into()
    }
}

impl AsRef<web_sys::Node> for El {
    fn as_ref(&self) -> &web_sys::Node {
        &self.0
    }
}

/// Calls `handler` on `event` for as long as the page lives. Views that
/// re-render use one delegated listener on a stable container instead of
/// listeners per row, so nothing accumulates.
pub fn listen(target: &EventTarget, event: &str, handler: impl FnMut(Event) + 'static) {
    let closure = Closure::<dyn FnMut(Event)>::new(handler);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// Replaces an element's content with text.
pub fn set_text(element: &Element, text: &str) {
    if element.text_content().as_deref() != Some(text) {
        element.set_text_content(Some(text));
    }
}

/// Shows or hides an element (the `hidden` attribute).
pub fn set_hidden(element: &Element, hidden: bool) {
    let _ = element.toggle_attribute_with_force("hidden", hidden);
}

/// Sets an attribute if it changed (avoids needless mutation records).
pub fn set_attr(element: &Element, name: &str, value: &str) {
    if element.get_attribute(name).as_deref() != Some(value) {
        let _ = element.set_attribute(name, value);
    }
}

/// Removes all children.
pub fn clear(element: &Element) {
    element.set_text_content(None);
}

/// The closest ancestor-or-self of the event target matching `selector`.
pub fn closest(event: &Event, selector: &str) -> Option<Element> {
    event
        .target()?
        .dyn_into::<Element>()
        .ok()?
        .closest(selector)
        .ok()
        .flatten()
}

/// Reads `data-<name>` of an element.
pub fn data(element: &Element, name: &str) -> Option<String> {
    element.get_attribute(&format!("data-{name}"))
}

/// Logs an error with context to the console.
pub fn log_error(context: &str, error: &JsValue) {
    web_sys::console::error_2(&context.into(), error);
}
