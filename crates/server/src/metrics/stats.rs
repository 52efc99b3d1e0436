//! `GET /admin/stats`: the server's vital signs over the last [`STATS_HISTORY`] seconds, one
//! sample a second, for the admin page's charts.
//!
//! The metrics actor reads the process's totals once a second (a few relaxed atomic loads, the
//! sources' sizes and `/proc`) and turns the difference from the previous reading into a
//! sample: rates, latency percentiles interpolated in the histogram's buckets as PromQL's
//! `histogram_quantile` does, the cache's hit ratio over that second. Nothing here runs on the
//! request path. Samples live in one process-wide ring of fixed size, like the recorder, so a
//! restart of `web_server_metrics` loses no history.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::handles::{RequestTotals, LATENCY_COUNTS};
use super::series::LATENCY_BUCKETS;

/// Samples kept: 15 minutes at one a second. At about 100 bytes a sample, under 100 KiB.
pub const STATS_HISTORY: usize = 900;

/// Readings closer together than this are one too many (see [`StatsRing::record`]).
const SHORTEST_INTERVAL: Duration = Duration::from_millis(900);

/// What the metrics actor reads at one sampling: cumulative counts and current levels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reading {
    /// When it was read (for the rates' interval).
    pub(crate) at: Instant,
    /// When it was read, in Unix milliseconds (for the page's time axis).
    pub(crate) unix_ms: u64,
    /// Requests answered so far, by status class and by latency bucket.
    pub(crate) requests: RequestTotals,
    /// Cache lookups answered from memory so far.
    pub(crate) cache_hits: u64,
    /// Cache lookups that had to read the file so far.
    pub(crate) cache_misses: u64,
    /// Restarts made by every supervisor so far.
    pub(crate) restarts: u64,
    /// Connections open now, on every listener.
    pub(crate) connections_open: u64,
    /// Resident memory now, where `/proc` tells it.
    pub(crate) resident_memory_bytes: Option<u64>,
    /// Bytes the file cache holds now.
    pub(crate) cache_bytes: u64,
    /// Files the file cache holds now.
    pub(crate) cache_entries: u64,
}

/// Requests answered per second over one interval, by status class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClassRates {
    /// Informational answers.
    #[serde(rename = "1xx")]
    pub informational: f64,
    /// Successes.
    #[serde(rename = "2xx")]
    pub success: f64,
    /// Redirections and not-modified answers.
    #[serde(rename = "3xx")]
    pub redirection: f64,
    /// Client errors.
    #[serde(rename = "4xx")]
    pub client_error: f64,
    /// Server errors.
    #[serde(rename = "5xx")]
    pub server_error: f64,
}

/// Latency percentiles over one interval, in seconds; `None` when nothing was answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// The median.
    pub p50: Option<f64>,
    /// The 95th percentile.
    pub p95: Option<f64>,
    /// The 99th percentile.
    pub p99: Option<f64>,
}

/// One second of the server's life, as `/admin/stats` serves it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StatsSample {
    /// When the interval ended, in Unix milliseconds.
    pub unix_ms: u64,
    /// Requests answered per second during the interval, by status class.
    pub requests_per_second: ClassRates,
    /// Latency percentiles of the requests answered during the interval.
    pub latency_seconds: Percentiles,
    /// Connections open at the end of the interval, on every listener.
    pub connections_open: u64,
    /// Resident memory at the end of the interval (`None` where `/proc` is unavailable).
    pub resident_memory_bytes: Option<u64>,
    /// Share of the interval's cache lookups answered from memory; `None` with no lookup.
    pub cache_hit_ratio: Option<f64>,
    /// Bytes the file cache held at the end of the interval.
    pub cache_bytes: u64,
    /// Files the file cache held at the end of the interval.
    pub cache_entries: u64,
    /// Children restarted during the interval, by every supervisor.
    pub restarts: u64,
}

impl StatsSample {
    /// The sample for the interval from `before` to `after`.
    fn between(before: &Reading, after: &Reading) -> StatsSample {
        // Sampling is once a second, but a busy Arbiter may run it late: divide by the time
        // that really passed (never by zero).
        let seconds = after
            .at
            .saturating_duration_since(before.at)
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let by_class = |class: usize| {
            let answered =
                after.requests.by_class[class].saturating_sub(before.requests.by_class[class]);
            answered as f64 / seconds
        };
        let latency: [u64; LATENCY_COUNTS] = std::array::from_fn(|bucket| {
            after.requests.latency[bucket].saturating_sub(before.requests.latency[bucket])
        });
        let hits = after.cache_hits.saturating_sub(before.cache_hits);
        let misses = after.cache_misses.saturating_sub(before.cache_misses);
        let lookups = hits + misses;
        StatsSample {
            unix_ms: after.unix_ms,
            requests_per_second: ClassRates {
                informational: by_class(0),
                success: by_class(1),
                redirection: by_class(2),
                client_error: by_class(3),
                server_error: by_class(4),
            },
            latency_seconds: Percentiles {
                p50: quantile(0.50, &latency),
                p95: quantile(0.95, &latency),
                p99: quantile(0.99, &latency),
            },
            connections_open: after.connections_open,
            resident_memory_bytes: after.resident_memory_bytes,
            cache_hit_ratio: (lookups > 0).then(|| hits as f64 / lookups as f64),
            cache_bytes: after.cache_bytes,
            cache_entries: after.cache_entries,
            restarts: after.restarts.saturating_sub(before.restarts),
        }
    }
}

/// The `q` quantile of the requests counted in `buckets` (per [`LATENCY_BUCKETS`], then one
/// past the last bound), interpolated linearly inside its bucket as PromQL's
/// `histogram_quantile` does; past the last bound, that bound. `None` when nothing was counted.
pub(crate) fn quantile(q: f64, buckets: &[u64; LATENCY_COUNTS]) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    for (bucket, &count) in buckets.iter().enumerate() {
        if count > 0 && (below + count) as f64 >= rank {
            let Some(&upper) = LATENCY_BUCKETS.get(bucket) else {
                return LATENCY_BUCKETS.last().copied();
            };
            let lower = bucket
                .checked_sub(1)
                .map_or(0.0, |previous| LATENCY_BUCKETS[previous]);
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * within);
        }
        below += count;
    }
    LATENCY_BUCKETS.last().copied()
}

/// The last [`STATS_HISTORY`] samples, and the reading the next one starts from.
pub(crate) struct StatsRing {
    /// Oldest first; never longer than [`STATS_HISTORY`].
    samples: VecDeque<StatsSample>,
    /// The last reading, the start of the next interval.
    previous: Option<Reading>,
}

impl StatsRing {
    pub(crate) const fn new() -> Self {
        StatsRing {
            samples: VecDeque::new(),
            previous: None,
        }
    }

    /// Adds the sample from the previous reading to this one (the first reading only starts
    /// the first interval), dropping the oldest when full. A reading less than
    /// [`SHORTEST_INTERVAL`] after the previous one is ignored: with several servers in one
    /// process, each one's collector reads, and the ring keeps one sample a second.
    pub(crate) fn record(&mut self, reading: Reading) {
        if let Some(previous) = &self.previous {
            if reading.at.saturating_duration_since(previous.at) < SHORTEST_INTERVAL {
                return;
            }
            if self.samples.capacity() < STATS_HISTORY {
                // Allocated once, to its final size.
                self.samples
                    .reserve_exact(STATS_HISTORY - self.samples.len());
            }
            if self.samples.len() == STATS_HISTORY {
                self.samples.pop_front();
            }
            self.samples
                .push_back(StatsSample::between(previous, &reading));
        }
        self.previous = Some(reading);
    }

    /// The samples of intervals that ended after `unix_ms` (all of them with `None`), oldest
    /// first.
    pub(crate) fn since(&self, unix_ms: Option<u64>) -> Vec<StatsSample> {
        let after = unix_ms.unwrap_or(0);
        self.samples
            .iter()
            .filter(|sample| unix_ms.is_none() || sample.unix_ms > after)
            .copied()
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }
}

/// The process's ring: written by the metrics actor once a second, read by `/admin/stats`.
static RING: Mutex<StatsRing> = Mutex::new(StatsRing::new());

/// Adds one reading to the process's ring.
pub(crate) fn record(reading: Reading) {
    RING.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .record(reading);
}

/// What `/admin/stats` answers.
#[derive(Serialize)]
struct StatsBody {
    /// The sampling interval, in milliseconds.
    interval_ms: u64,
    /// Samples kept at most.
    history: usize,
    /// The samples asked for, oldest first.
    samples: Vec<StatsSample>,
}

/// `/admin/stats` as JSON: every kept sample, or those after `since` (Unix milliseconds), so a
/// page polling every second fetches the history once and then one sample at a time.
pub fn stats_json(since: Option<u64>) -> String {
    let samples = RING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .since(since);
    let body = StatsBody {
        interval_ms: super::SAMPLE_INTERVAL.as_millis() as u64,
        history: STATS_HISTORY,
        samples,
    };
    let mut json = serde_json::to_string(&body).unwrap_or_else(|err| {
        serde_json::json!({ "error": format!("stats could not be serialised: {err}") }).to_string()
    });
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: Instant, second: u64) -> Reading {
        Reading {
            at: at + Duration::from_secs(second),
            unix_ms: 1_000_000 + second * 1000,
            requests: RequestTotals::default(),
            cache_hits: 0,
            cache_misses: 0,
            restarts: 0,
            connections_open: 0,
            resident_memory_bytes: None,
            cache_bytes: 0,
            cache_entries: 0,
        }
    }

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        let mut buckets = [0u64; LATENCY_COUNTS];
        assert_eq!(quantile(0.5, &buckets), None, "nothing counted");
        // 100 requests between 1 and 2.5 ms (bucket 5: (0.001, 0.0025]).
        buckets[5] = 100;
        let p50 = quantile(0.5, &buckets).unwrap();
        assert!((p50 - 0.001_75).abs() < 1e-9, "{p50}");
        assert!((quantile(1.0, &buckets).unwrap() - 0.002_5).abs() < 1e-9);
        // 98 fast ones and 2 past 10 s: p99 is past every bound, so the last bound.
        let mut buckets = [0u64; LATENCY_COUNTS];
        buckets[0] = 98;
        buckets[LATENCY_COUNTS - 1] = 2;
        assert!(quantile(0.5, &buckets).unwrap() <= 0.000_05);
        assert_eq!(quantile(0.99, &buckets), Some(10.0));
    }

    #[test]
    fn a_sample_is_the_difference_between_two_readings() {
        let start = Instant::now();
        let before = reading(start, 0);
        let mut after = reading(start, 2);
        after.requests.by_class = [0, 200, 10, 4, 2];
        after.requests.latency[3] = 216;
        after.cache_hits = 30;
        after.cache_misses = 10;
        after.restarts = 1;
        after.connections_open = 7;
        after.cache_bytes = 4096;
        let sample = StatsSample::between(&before, &after);
        assert_eq!(sample.unix_ms, 1_002_000);
        assert_eq!(sample.requests_per_second.success, 100.0, "per second");
        assert_eq!(sample.requests_per_second.redirection, 5.0);
        assert_eq!(sample.requests_per_second.server_error, 1.0);
        assert!(sample.latency_seconds.p50.unwrap() > LATENCY_BUCKETS[2]);
        assert!(sample.latency_seconds.p99.unwrap() <= LATENCY_BUCKETS[3]);
        assert_eq!(sample.cache_hit_ratio, Some(0.75));
        assert_eq!((sample.restarts, sample.connections_open), (1, 7));
        let json = serde_json::to_value(sample).unwrap();
        assert_eq!(json["requests_per_second"]["2xx"], 100.0);
        assert!(json["latency_seconds"]["p95"].is_number());
        assert!(json["resident_memory_bytes"].is_null());
    }

    #[test]
    fn the_ring_keeps_the_last_fifteen_minutes_and_no_more() {
        let start = Instant::now();
        let mut ring = StatsRing::new();
        ring.record(reading(start, 0));
        assert_eq!(ring.len(), 0, "one reading starts the first interval");
        for second in 1..=(STATS_HISTORY as u64 + 100) {
            ring.record(reading(start, second));
        }
        assert_eq!(ring.len(), STATS_HISTORY);
        assert_eq!(ring.samples.capacity(), STATS_HISTORY, "allocated once");
        let all = ring.since(None);
        assert_eq!(all.first().unwrap().unix_ms, 1_000_000 + 101 * 1000);
        assert_eq!(all.last().unwrap().unix_ms, 1_000_000 + 1000 * 1000);
        let recent = ring.since(Some(1_000_000 + 998 * 1000));
        assert_eq!(recent.len(), 2, "only samples after `since`");
        let mut early = reading(start, 1000);
        early.at += Duration::from_millis(300);
        ring.record(early);
        assert_eq!(ring.since(None).len(), STATS_HISTORY);
        assert_eq!(
            ring.since(Some(1_000_000 + 999 * 1000)).len(),
            1,
            "a second collector's reading within the second adds no sample"
        );
    }
}
