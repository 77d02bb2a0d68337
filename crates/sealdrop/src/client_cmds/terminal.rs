//! Progress bars on the terminal: drawn on stderr when it is a terminal, so
//! stdout stays clean for the object key or JSON, and silent otherwise
//! (scripts, CI logs).

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sealdrop_client::Progress;

/// A byte-progress bar fed by a transfer.
#[derive(Clone)]
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar labelled `label`, hidden unless stderr is a terminal.
    pub fn new(label: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        // The template is a constant: it parses, and if it ever did not, the
        // default style still shows progress.
        // `wide_bar` takes what the line leaves, so the bar never wraps.
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(shortened(label));
        Bar(bar)
    }

    /// Removes the bar, leaving the terminal as it was.
    pub fn clear(&self) {
        self.0.finish_and_clear();
    }
}

/// Labels longer than this are cut in the middle, where names differ least.
const LABEL_WIDTH: usize = 32;

fn shortened(label: &str) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= LABEL_WIDTH {
        return label.to_owned();
    }
    let keep = (LABEL_WIDTH - 1) / 2;
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}…{tail}")
}

impl Progress for Bar {
    fn update(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_keep_both_ends() {
        assert_eq!(shortened("a.txt"), "a.txt");
        let long = format!("alice/{}/report.pdf", "x".repeat(40));
        let short = shortened(&long);
        assert_eq!(short.chars().count(), 31);
        assert!(
            short.starts_with("alice/") && short.ends_with("report.pdf"),
            "{short}"
        );
    }
}
