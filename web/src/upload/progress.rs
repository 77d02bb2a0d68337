//! Transfer speed and time left, from a sliding window of progress samples.

use std::collections::VecDeque;

/// The window speed is averaged over: long enough to smooth part-sized steps,
/// short enough to follow real changes.
const WINDOW_MS: f64 = 5_000.0;

/// Speed estimation for one transfer.
#[derive(Default)]
pub struct Meter {
    samples: VecDeque<(f64, u64)>,
}

impl Meter {
    /// Records that `done` bytes are done at time `now_ms`.
    pub fn record(&mut self, now_ms: f64, done: u64) {
        // A paused or restarted part can move progress backwards: restart.
        if self.samples.back().is_some_and(|(_, last)| *last > done) {
            self.samples.clear();
        }
        self.samples.push_back((now_ms, done));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(t, _)| now_ms - t > WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// Forgets the history (after a pause: idle time is not slowness).
    pub fn reset(&mut self) {
        self.samples.clear();
    }

    /// Bytes per second, once there is enough history.
    pub fn bytes_per_sec(&self) -> Option<f64> {
        let (t0, d0) = self.samples.front()?;
        let (t1, d1) = self.samples.back()?;
        let elapsed = t1 - t0;
        (elapsed >= 300.0).then(|| (d1 - d0) as f64 * 1000.0 / elapsed)
    }

    /// Seconds until `total` at the current speed.
    pub fn seconds_left(&self, total: u64) -> Option<f64> {
        let speed = self.bytes_per_sec().filter(|s| *s > 0.0)?;
        let done = self.samples.back()?.1;
        Some(total.saturating_sub(done) as f64 / speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn speed_and_time_left() {
        let mut meter = Meter::default();
        assert_eq!(meter.bytes_per_sec(), None);
        meter.record(0.0, 0);
        meter.record(1000.0, 1_000_000);
        assert_eq!(meter.bytes_per_sec(), Some(1_000_000.0));
        assert_eq!(meter.seconds_left(3_000_000), Some(2.0));
        meter.record(1500.0, 10);
        assert_eq!(meter.bytes_per_sec(), None);
    }
}
