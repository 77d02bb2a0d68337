//! Transfer progress: the [`Progress`] trait callers implement, and the shared
//! counter transfers feed it through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Receives the progress of one upload or download.
///
/// `done` counts bytes on the wire (stored bytes: ciphertext and tag for
/// client-side encryption). It can go **down**: bytes of a failed attempt are
/// taken back when the part is sent again. Called from any task, often.
pub trait Progress: Send + Sync {
    /// `done` of `total` bytes are transferred.
    fn update(&self, done: u64, total: u64);
}

/// Ignores progress.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _done: u64, _total: u64) {}
}

impl<P: Progress + ?Sized> Progress for Arc<P> {
    fn update(&self, done: u64, total: u64) {
        (**self).update(done, total);
    }
}

/// The bytes done of one transfer, shared by its concurrent requests.
pub(crate) struct ProgressCounter {
    done: AtomicU64,
    total: u64,
    sink: Box<dyn Progress>,
}

impl ProgressCounter {
    pub(crate) fn new(total: u64, sink: impl Progress + 'static) -> Arc<Self> {
        sink.update(0, total);
        Arc::new(ProgressCounter {
            done: AtomicU64::new(0),
            total,
            sink: Box::new(sink),
        })
    }

    pub(crate) fn add(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.sink.update(done, self.total);
    }

    fn take_back(&self, bytes: u64) {
        let previous = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(bytes))
            })
            .unwrap_or_default();
        self.sink.update(previous.saturating_sub(bytes), self.total);
    }

    /// Starts counting one attempt at sending some bytes; see [`Attempt`].
    pub(crate) fn attempt(self: &Arc<Self>) -> Attempt {
        Attempt {
            counter: Arc::clone(self),
            sent: Arc::new(AtomicU64::new(0)),
            kept: false,
        }
    }
}

/// The bytes one request attempt sent. Unless [`Attempt::keep`] is called, the
/// bytes are taken back from the transfer's progress when it is dropped: a
/// failed attempt's bytes will be sent again.
pub(crate) struct Attempt {
    counter: Arc<ProgressCounter>,
    sent: Arc<AtomicU64>,
    kept: bool,
}

impl Attempt {
    /// A handle the request body reports sent chunks through.
    pub(crate) fn meter(&self) -> Meter {
        Meter {
            counter: Arc::clone(&self.counter),
            sent: Arc::clone(&self.sent),
        }
    }

    /// The attempt succeeded: its bytes stay counted.
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.kept {
            self.counter.take_back(self.sent.swap(0, Ordering::Relaxed));
        }
    }
}

/// Counts bytes for an [`Attempt`]; `'static`, so a request body can own it.
#[derive(Clone)]
pub(crate) struct Meter {
    counter: Arc<ProgressCounter>,
    sent: Arc<AtomicU64>,
}

impl Meter {
    pub(crate) fn add(&self, bytes: u64) {
        self.sent.fetch_add(bytes, Ordering::Relaxed);
        self.counter.add(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(u64, u64)>>);

    impl Progress for Recorder {
        fn update(&self, done: u64, total: u64) {
            self.0.lock().unwrap().push((done, total));
        }
    }

    #[test]
    fn failed_attempts_are_taken_back_and_kept_ones_stay() {
        let recorder = Arc::new(Recorder::default());
        let counter = ProgressCounter::new(100, Arc::clone(&recorder));

        let failed = counter.attempt();
        failed.meter().add(30);
        failed.meter().add(10);
        drop(failed);

        let ok = counter.attempt();
        ok.meter().add(40);
        ok.keep();
        let second = counter.attempt();
        second.meter().add(60);
        second.keep();

        let seen = recorder.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (0, 100),
                (30, 100),
                (40, 100),
                (0, 100),
                (40, 100),
                (100, 100)
            ]
        );
    }
}
