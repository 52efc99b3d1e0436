//! Per-client limits, as nginx's `limit_conn` and `limit_req`: connections open at once from
//! one address ([`ConnectionsPerIp`], checked at accept) and a request rate with a burst per
//! client address ([`RequestRates`], a token bucket checked per request).
//!
//! Both tables are shared by every worker thread and split into [`SHARDS`] mutex-protected
//! shards picked by the address's hash, so two workers rarely meet on one lock, and a lock is
//! held for one hash-map operation. No message crosses threads:
//! - the connection table is touched twice per connection (open and close), never per request;
//! - the request table once per request, and only when `limits.requests_per_second` is set;
//!   an uncontended mutex costs about what an atomic read-modify-write does.
//!
//! The token bucket is written here rather than taken from the `governor` crate because the
//! table must stay bounded: governor's keyed store never evicts on its own (its
//! `retain_recent` needs a periodic task, and between two runs a flood of source addresses, an
//! IPv6 /64 holds 2^64, grows it without limit), and it brings `dashmap` and `quanta` for what
//! is forty lines of arithmetic. Here each shard holds at most [`TRACKED_CLIENTS`] /
//! [`SHARDS`] clients; a full shard first forgets clients whose bucket is full again (they are
//! indistinguishable from new ones), then, if every one is still limited, an arbitrary one.
//! That last case only happens under a flood from more addresses than the table holds, and
//! costs the evicted client a fresh (full) bucket, never memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Shards of each table: a power of two well above the worker count.
pub(crate) const SHARDS: usize = 64;

/// Clients whose request rate is remembered at most (about 60 bytes each: 4 MiB at most).
pub const TRACKED_CLIENTS: usize = 65_536;

/// How often a full shard may be swept for clients whose bucket refilled; between sweeps a
/// full shard evicts an arbitrary client instead, so a flood cannot make every request scan.
const SWEEP_EVERY_MS: u64 = 1_000;

/// A request rate per client (`limits.requests_per_second`, `limits.request_burst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimit {
    /// Requests per second a client may sustain; 0 turns the limit off.
    pub per_second: u32,
    /// Requests a client may make at once after a quiet spell: the bucket's size (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// Whether the limit is on.
    pub fn is_on(&self) -> bool {
        self.per_second > 0
    }
}

/// The shard of `ip` in a table of [`SHARDS`].
fn shard_of(hasher: &RandomState, ip: &IpAddr) -> usize {
    (hasher.hash_one(ip) as usize) & (SHARDS - 1)
}

/// Connections open now per client address.
#[derive(Debug)]
pub struct ConnectionsPerIp {
    /// Picks the shard; keyed per process so that addresses cannot be chosen to share one.
    hasher: RandomState,
    /// Open connections per address; an address leaves its shard with its last connection,
    /// so the table never holds more entries than there are connections.
    shards: Box<[Mutex<HashMap<IpAddr, u32>>]>,
}

impl Default for ConnectionsPerIp {
    fn default() -> Self {
        ConnectionsPerIp {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl ConnectionsPerIp {
    fn shard(&self, ip: &IpAddr) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.shards[shard_of(&self.hasher, ip)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one more connection from `ip` unless it has `limit` open already (then `false`,
    /// and nothing is counted).
    pub fn try_open(&self, ip: IpAddr, limit: usize) -> bool {
        let mut shard = self.shard(&ip);
        let open = shard.entry(ip).or_insert(0);
        if *open as usize >= limit {
            if *open == 0 {
                shard.remove(&ip);
            }
            return false;
        }
        *open += 1;
        true
    }

    /// A connection [`try_open`](Self::try_open) counted has closed.
    pub fn close(&self, ip: IpAddr) {
        let mut shard = self.shard(&ip);
        if let Some(open) = shard.get_mut(&ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                shard.remove(&ip);
            }
        }
    }

    /// Connections open from `ip` (for tests and diagnostics).
    pub fn open(&self, ip: IpAddr) -> usize {
        self.shard(&ip).get(&ip).map_or(0, |open| *open as usize)
    }

    /// Addresses with connections open (for tests and diagnostics).
    pub fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |shard| shard.len()))
            .sum()
    }
}

/// One client's token bucket, in thousandths of a request so that integer arithmetic keeps
/// fractions of a token.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of a request available at `at_ms`.
    milli_tokens: u64,
    /// When `milli_tokens` was computed (coarse monotonic milliseconds).
    at_ms: u64,
}

impl Bucket {
    /// The bucket refilled up to `now_ms`: `per_second` tokens a second are a thousandth of a
    /// token per millisecond each, up to the burst.
    fn refilled(self, now_ms: u64, limit: RateLimit) -> Bucket {
        let capacity = u64::from(limit.burst.max(1)) * 1000;
        let elapsed = now_ms.saturating_sub(self.at_ms);
        Bucket {
            milli_tokens: self
                .milli_tokens
                .saturating_add(elapsed.saturating_mul(u64::from(limit.per_second)))
                .min(capacity),
            at_ms: now_ms.max(self.at_ms),
        }
    }

    fn is_full(self, limit: RateLimit) -> bool {
        self.milli_tokens >= u64::from(limit.burst.max(1)) * 1000
    }
}

/// One shard of [`RequestRates`].
#[derive(Debug, Default)]
struct RateShard {
    buckets: HashMap<IpAddr, Bucket>,
    /// When the shard was last swept for full buckets.
    swept_ms: u64,
}

/// Token buckets per client address, bounded to [`TRACKED_CLIENTS`].
#[derive(Debug)]
pub struct RequestRates {
    /// Picks the shard; keyed per process.
    hasher: RandomState,
    shards: Box<[Mutex<RateShard>]>,
    /// Clients per shard at most.
    per_shard: usize,
}

impl Default for RequestRates {
    fn default() -> Self {
        Self::with_capacity(TRACKED_CLIENTS)
    }
}

impl RequestRates {
    /// A table remembering at most about `clients` clients.
    pub fn with_capacity(clients: usize) -> Self {
        RequestRates {
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(RateShard::default()))
                .collect(),
            per_shard: clients.div_ceil(SHARDS).max(1),
        }
    }

    /// Takes one request from `ip`'s bucket at `now_ms` (coarse monotonic milliseconds).
    /// `Err` with how long until the next request would be allowed when the bucket is empty.
    pub fn check(&self, ip: IpAddr, limit: RateLimit, now_ms: u64) -> Result<(), Duration> {
        if !limit.is_on() {
            return Ok(());
        }
        let mut shard = self.shards[shard_of(&self.hasher, &ip)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = Bucket {
            milli_tokens: u64::from(limit.burst.max(1)) * 1000,
            at_ms: now_ms,
        };
        let bucket = match shard.buckets.get(&ip) {
            Some(bucket) => bucket.refilled(now_ms, limit),
            None => {
                if shard.buckets.len() >= self.per_shard {
                    self.make_room(&mut shard, limit, now_ms);
                }
                fresh
            }
        };
        let (result, bucket) = if bucket.milli_tokens >= 1000 {
            let taken = Bucket {
                milli_tokens: bucket.milli_tokens - 1000,
                ..bucket
            };
            (Ok(()), taken)
        } else {
            let missing = 1000 - bucket.milli_tokens;
            let wait_ms = missing.div_ceil(u64::from(limit.per_second));
            (Err(Duration::from_millis(wait_ms)), bucket)
        };
        shard.buckets.insert(ip, bucket);
        result
    }

    /// Frees a place in a full shard: clients whose bucket refilled are forgotten (at most
    /// once per [`SWEEP_EVERY_MS`]); if none was, an arbitrary client is.
    fn make_room(&self, shard: &mut RateShard, limit: RateLimit, now_ms: u64) {
        if now_ms.saturating_sub(shard.swept_ms) >= SWEEP_EVERY_MS {
            shard.swept_ms = now_ms;
            shard
                .buckets
                .retain(|_, bucket| !bucket.refilled(now_ms, limit).is_full(limit));
        }
        if shard.buckets.len() >= self.per_shard {
            if let Some(any) = shard.buckets.keys().next().copied() {
                shard.buckets.remove(&any);
            }
        }
    }

    /// Clients remembered now (for tests and diagnostics).
    pub fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |shard| shard.buckets.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn connections_are_counted_per_address_up_to_the_limit() {
        let table = ConnectionsPerIp::default();
        assert!(table.try_open(ip(1), 2));
        assert!(table.try_open(ip(1), 2));
        assert!(!table.try_open(ip(1), 2), "a third is refused");
        assert!(table.try_open(ip(2), 2), "another address is not");
        assert_eq!(table.open(ip(1)), 2);
        table.close(ip(1));
        assert!(table.try_open(ip(1), 2));
        for _ in 0..2 {
            table.close(ip(1));
        }
        table.close(ip(2));
        assert_eq!(table.clients(), 0, "closed addresses leave the table");
        assert!(!table.try_open(ip(3), 0));
        assert_eq!(
            table.clients(),
            0,
            "a refusal at a zero limit leaves nothing"
        );
    }

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let rates = RequestRates::default();
        let limit = RateLimit {
            per_second: 2,
            burst: 3,
        };
        for _ in 0..3 {
            assert_eq!(rates.check(ip(1), limit, 1_000), Ok(()));
        }
        assert_eq!(
            rates.check(ip(1), limit, 1_000),
            Err(Duration::from_millis(500)),
            "one token takes half a second at 2/s"
        );
        assert_eq!(
            rates.check(ip(2), limit, 1_000),
            Ok(()),
            "others unaffected"
        );
        assert_eq!(
            rates.check(ip(1), limit, 1_250),
            Err(Duration::from_millis(250))
        );
        assert_eq!(rates.check(ip(1), limit, 1_500), Ok(()));
        assert!(rates.check(ip(1), limit, 1_500).is_err());
        // A long pause refills to the burst, no further.
        for _ in 0..3 {
            assert_eq!(rates.check(ip(1), limit, 60_000), Ok(()));
        }
        assert!(rates.check(ip(1), limit, 60_000).is_err());
        let off = RateLimit::default();
        assert_eq!(rates.check(ip(1), off, 60_000), Ok(()));
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_addresses() {
        let rates = RequestRates::with_capacity(SHARDS * 4);
        let limit = RateLimit {
            per_second: 1,
            burst: 1,
        };
        for n in 0..100_000 {
            let _ = rates.check(ip(n), limit, 5_000);
        }
        assert!(rates.clients() <= SHARDS * 4, "{}", rates.clients());
        // Once their buckets refill, a sweep forgets them.
        for n in 0..SHARDS as u32 * 16 {
            let _ = rates.check(ip(1_000_000 + n), limit, 60_000);
        }
        assert!(rates.clients() <= SHARDS * 4);
    }
}
