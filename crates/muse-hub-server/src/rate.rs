//! Rate limits: one token bucket per client address and one per presented credential, kept in
//! this process (each server of a cluster limits on its own).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

/// A rate: `per_minute` requests on average, with bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<[u8; 16], Bucket>>,
}

impl RateLimiter {
    /// Buckets of `rate`.
    pub fn new(rate: Rate) -> RateLimiter {
        RateLimiter { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s bucket: `Ok`, or `Err(seconds)` until one is available.
    pub fn check(&self, key: &[u8]) -> Result<(), u64> {
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        let digest: [u8; 32] = Sha256::digest(key).into();
        let mut short = [0u8; 16];
        short.copy_from_slice(&digest[..16]);
        let per_second = f64::from(self.rate.per_minute) / 60.0;
        let burst = f64::from(self.rate.burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            // Forget buckets that have refilled: they limit nothing.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < burst);
        }
        let bucket = buckets.entry(short).or_insert(Bucket { tokens: burst, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The client's address: the socket's peer, or — only when the peer is the configured trusted
/// proxy — the last address of its `X-Forwarded-For`.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted_proxy: Option<IpAddr>) -> IpAddr {
    if trusted_proxy != Some(peer.ip()) {
        return peer.ip();
    }
    // Only the entry the proxy appended is its own word; earlier ones come from the client.
    let last = headers.get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next());
    last.and_then(|a| a.trim().parse::<IpAddr>().ok()).unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_burst_then_429_with_a_retry_time() {
        let limiter = RateLimiter::new(Rate { per_minute: 60, burst: 3 });
        for _ in 0..3 {
            assert_eq!(limiter.check(b"ip:1"), Ok(()));
        }
        assert_eq!(limiter.check(b"ip:1"), Err(1));
        assert_eq!(limiter.check(b"ip:2"), Ok(()), "another key has its own bucket");
        let off = RateLimiter::new(Rate { per_minute: 0, burst: 0 });
        assert!((0..1000).all(|_| off.check(b"k").is_ok()));
    }

    #[test]
    fn forwarded_for_counts_only_from_the_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("9.9.9.9, 10.0.0.7"));
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(client_ip(peer, &headers, None), peer.ip());
        assert_eq!(client_ip(peer, &headers, Some("127.0.0.2".parse().unwrap())), peer.ip());
        assert_eq!(client_ip(peer, &headers, Some(peer.ip())), "10.0.0.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(peer, &HeaderMap::new(), Some(peer.ip())), peer.ip());
    }
}
