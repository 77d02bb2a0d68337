//! Retrying transient failures with exponential backoff and full jitter.
//!
//! Jitter spreads the retries of many clients (or many parts of one upload)
//! that failed at the same moment, so they do not hit a recovering server in
//! lockstep (the "full jitter" scheme: a uniform delay in `[0, backoff]`).

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, with_causes};

/// How often and how patiently a failed request is repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Upper bound of the first delay; doubles with every retry.
    pub base_delay: Duration,
    /// Upper bound of any delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Which failures a call site may repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// Repeating the request has the same effect (presigned PUT of the same
    /// bytes, GET, DELETE): retry every transient failure.
    Idempotent,
    /// Repeating might act twice: retry only failures where the request
    /// certainly did not arrive (connection refused) or was refused unprocessed
    /// (rate limited, unavailable).
    Unsafe,
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based): uniform in
    /// `[0, min(max_delay, base_delay · 2^retry)]`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        ceiling.mul_f64(unit_random())
    }

    /// Runs `attempt` until it succeeds, fails permanently, or attempts run out.
    /// `attempt` receives the 0-based attempt number.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        idempotence: Idempotence,
        what: &str,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut number = 0;
        loop {
            let err = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let repeatable = match idempotence {
                Idempotence::Idempotent => err.is_retryable(),
                Idempotence::Unsafe => {
                    err.is_connect()
                        || matches!(
                            err.code(),
                            Some(
                                sealdrop_api::ErrorCode::RateLimited
                                    | sealdrop_api::ErrorCode::Unavailable
                            )
                        )
                }
            };
            if !repeatable || number + 1 >= self.max_attempts {
                return Err(err);
            }
            // A server's own Retry-After wins over our guess, within reason.
            let delay = err
                .retry_after()
                .map(|d| d.min(self.max_delay))
                .unwrap_or_else(|| self.backoff(number));
            // Info, not warn: a retry that succeeds is no news, and one that
            // fails ends in the error the caller reports.
            tracing::info!(
                "{what} failed (attempt {} of {}), retrying in {delay:.1?}: {}",
                number + 1,
                self.max_attempts,
                with_causes(&err)
            );
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }
}

/// A uniform random number in `[0, 1)`. Jitter needs no cryptographic quality,
/// but the OS generator is at hand and never predictable across processes.
fn unit_random() -> f64 {
    // 53 random bits fill an f64 mantissa exactly.
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    fn unavailable() -> Error {
        Error::Storage {
            status: 503,
            operation: "test".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for retry in 0..10 {
            let ceiling = Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(policy.backoff(retry) <= ceiling);
            }
        }
        // Full jitter: delays differ between calls.
        let samples: std::collections::BTreeSet<_> = (0..20).map(|_| policy.backoff(3)).collect();
        assert!(samples.len() > 1);
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicU32::new(0);
        let out = quick(5)
            .run(Idempotence::Idempotent, "test", |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { if n < 3 { Err(unavailable()) } else { Ok(n) } }
            })
            .await
            .unwrap();
        assert_eq!(out, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_never_retries_permanent_errors() {
        let calls = AtomicU32::new(0);
        let err = quick(3)
            .run(Idempotence::Idempotent, "test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(unavailable()) }
            })
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(503));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let forbidden = || Error::Storage {
            status: 403,
            operation: "test".into(),
            detail: String::new(),
        };
        quick(3)
            .run(Idempotence::Idempotent, "test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { Err::<(), _>(forbidden()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unsafe_calls_are_not_repeated_after_an_ambiguous_failure() {
        let calls = AtomicU32::new(0);
        // A 503 from storage may have been processed: not repeated for
        // non-idempotent calls. A broker's `unavailable` code is.
        quick(3)
            .run(Idempotence::Unsafe, "test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(unavailable()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        calls.store(0, Ordering::SeqCst);
        let rate_limited = || Error::Api {
            status: 429,
            code: sealdrop_api::ErrorCode::RateLimited,
            message: "slow down".into(),
            retry_after: Some(Duration::from_millis(1)),
        };
        quick(3)
            .run(Idempotence::Unsafe, "test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { Err::<(), _>(rate_limited()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
