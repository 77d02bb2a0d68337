//! Repeating failed requests: which failures, how often, how patiently.
//!
//! Delays grow exponentially with "full jitter" (uniform in `[0, ceiling]`),
//! so the many parts or clients that failed at the same moment do not hit a
//! recovering server in lockstep. A server's own `Retry-After` wins, within
//! [`RetryPolicy::max_server_wait`]: asked to wait longer, the client reports
//! the failure instead of hanging silently.

use std::time::Duration;

use crate::failure::Classify;

/// Which failures a call site may repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotence {
    /// Repeating has the same effect (a presigned PUT of the same bytes, GET,
    /// DELETE, signing part URLs): every transient failure is repeated.
    Idempotent,
    /// Repeating might act twice (creating an upload leaves a multipart
    /// upload behind; completing one twice fails the second time): only
    /// failures where the request certainly had no effect are repeated.
    Unsafe,
}

/// How often and how patiently a failed request is repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Upper bound of the first delay; doubles with every retry.
    pub base_delay: Duration,
    /// Upper bound of any computed delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` waited for automatically.
    pub max_server_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_server_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based), for a `jitter` sample
    /// uniform in `[0, 1)`: `jitter · min(max_delay, base_delay · 2^retry)`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        ceiling.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// Whether to repeat a request that failed with `error` on attempt number
    /// `attempt` (0-based), and after how long; `None`: report `error`.
    pub fn next_delay<E: Classify>(
        &self,
        error: &E,
        idempotence: Idempotence,
        attempt: u32,
        jitter: f64,
    ) -> Option<Duration> {
        let repeatable = match idempotence {
            Idempotence::Idempotent => error.kind().is_transient(),
            Idempotence::Unsafe => error.unprocessed(),
        };
        if !repeatable || attempt.saturating_add(1) >= self.max_attempts {
            return None;
        }
        match error.retry_after() {
            Some(wait) if wait > self.max_server_wait => None,
            Some(wait) => Some(wait),
            None => Some(self.backoff(attempt, jitter)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::{Endpoint, Failure, FailureKind};

    struct Test(FailureKind, Option<Duration>, bool);

    impl Classify for Test {
        fn kind(&self) -> FailureKind {
            self.0
        }
        fn retry_after(&self) -> Option<Duration> {
            self.1
        }
        fn unprocessed(&self) -> bool {
            self.2
        }
    }

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_server_wait: Duration::from_secs(5),
        };
        for retry in 0..10 {
            let ceiling = Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_secs(1));
            assert_eq!(
                policy.backoff(retry, 0.999_999_999),
                ceiling.mul_f64(0.999_999_999)
            );
            assert_eq!(policy.backoff(retry, 0.0), Duration::ZERO);
        }
        assert_eq!(policy.backoff(40, 2.0), Duration::from_secs(1), "clamped");
    }

    #[test]
    fn transient_failures_repeat_until_attempts_run_out() {
        let policy = RetryPolicy::default();
        let busy = Failure::storage(503, b"", None);
        for attempt in 0..4 {
            assert!(
                policy
                    .next_delay(&busy, Idempotence::Idempotent, attempt, 0.5)
                    .is_some()
            );
        }
        assert_eq!(
            policy.next_delay(&busy, Idempotence::Idempotent, 4, 0.5),
            None
        );
        let forbidden = Failure::storage(403, b"", None);
        assert_eq!(
            policy.next_delay(&forbidden, Idempotence::Idempotent, 0, 0.5),
            None
        );
    }

    #[test]
    fn unsafe_calls_repeat_only_what_certainly_had_no_effect() {
        let policy = RetryPolicy::default();
        // A 503 from storage may have been processed.
        let busy = Failure::storage(503, b"", None);
        assert_eq!(policy.next_delay(&busy, Idempotence::Unsafe, 0, 0.5), None);
        let refused = Failure::unreachable(Endpoint::Broker, "refused", true);
        assert!(
            policy
                .next_delay(&refused, Idempotence::Unsafe, 0, 0.5)
                .is_some()
        );
        let reset = Failure::unreachable(Endpoint::Broker, "reset", false);
        assert_eq!(policy.next_delay(&reset, Idempotence::Unsafe, 0, 0.5), None);
    }

    #[test]
    fn the_server_s_wait_wins_within_reason() {
        let policy = RetryPolicy::default();
        let asked = Test(FailureKind::RateLimited, Some(Duration::from_secs(3)), true);
        assert_eq!(
            policy.next_delay(&asked, Idempotence::Unsafe, 0, 0.5),
            Some(Duration::from_secs(3))
        );
        let too_long = Test(
            FailureKind::RateLimited,
            Some(Duration::from_secs(600)),
            true,
        );
        assert_eq!(
            policy.next_delay(&too_long, Idempotence::Unsafe, 0, 0.5),
            None
        );
    }
}
