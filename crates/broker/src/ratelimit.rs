//! Per-user token buckets for calls that cost a KMS request (or let storage make
//! one): a user can burst, then is held to a sustained rate; the answer to an
//! empty bucket is 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimitConfig;

/// The limiter. Idle buckets are forgotten, so memory follows active users.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

const FORGET_AFTER: Duration = Duration::from_secs(600);

impl RateLimiter {
    /// A limiter with this configuration.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(config.per_minute) / 60.0,
            burst: f64::from(config.burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`, or says how many seconds until one is free.
    pub fn check(&self, user: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; fail open rather than lock
            // every user out of their files.
            return Ok(());
        };
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.updated) < FORGET_AFTER);
        }
        let bucket = buckets.entry(user.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_limits_per_user() {
        let limiter = RateLimiter::new(RateLimitConfig {
            per_minute: 60,
            burst: 3,
        });
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert_eq!(limiter.check("a"), Err(1));
        assert!(limiter.check("b").is_ok());
    }
}
