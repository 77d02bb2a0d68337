//! Running a request under the transfer core's [`RetryPolicy`]: the policy
//! decides whether and when; this loop sleeps on tokio and logs.

use std::future::Future;

use sealdrop_transfer::{Idempotence, RetryPolicy};

use crate::error::{Error, with_causes};

/// Runs `attempt` until it succeeds, fails in a way not worth repeating, or
/// attempts run out. `attempt` receives the 0-based attempt number.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
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
        let Some(delay) = policy.next_delay(&err, idempotence, number, unit_random()) else {
            return Err(err);
        };
        // Info, not warn: a retry that succeeds is no news, and one that
        // fails ends in the error the caller reports.
        tracing::info!(
            "{what} failed (attempt {} of {}), retrying in {delay:.1?}: {}",
            number + 1,
            policy.max_attempts,
            with_causes(&err)
        );
        tokio::time::sleep(delay).await;
        number += 1;
    }
}

/// A uniform random number in `[0, 1)` for jitter. It needs no cryptographic
/// quality, but the OS generator is at hand and never predictable across
/// processes.
fn unit_random() -> f64 {
    // 53 random bits fill an f64 mantissa exactly.
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdrop_transfer::Failure;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryPolicy::default()
        }
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success_and_gives_up_on_permanent_ones() {
        let calls = AtomicU32::new(0);
        let out = run(&quick(5), Idempotence::Idempotent, "test", |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 3 {
                    Err(Failure::storage(503, b"", None).into())
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((out, calls.load(Ordering::SeqCst)), (3, 4));

        calls.store(0, Ordering::SeqCst);
        run(&quick(5), Idempotence::Idempotent, "test", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), Error>(Failure::storage(403, b"", None).into()) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
