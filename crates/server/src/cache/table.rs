//! The cache table: an LRU map bounded by entries and bytes, shared by the owning actor (which
//! inserts, evicts, invalidates and sweeps) and the connections (which read it directly, with no
//! message round trip: a hit costs one uncontended lock, about 0.1 µs, where a message to
//! another Arbiter costs about 5.5 µs).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use lru::LruCache;

/// What the table needs to know of an entry.
pub trait Weighed {
    /// Bytes the entry holds, counted against the byte bound.
    fn weight(&self) -> u64;

    /// Whether the entry records that its key has nothing to serve (a negative entry, such as
    /// a remembered 404). Negative entries live in a bound of their own and weigh nothing
    /// against the byte bound, so a scan of random paths evicts only other negative entries,
    /// never files.
    fn negative(&self) -> bool {
        false
    }
}

/// Counts of what the table did, for metrics.
#[derive(Debug, Default)]
pub struct TableStats {
    /// Reads that found a live entry.
    pub hits: AtomicU64,
    /// Reads that found none.
    pub misses: AtomicU64,
    /// Entries pushed out to respect a bound.
    pub evictions: AtomicU64,
    /// Files read from disk into the table by the owner.
    pub loads: AtomicU64,
}

/// The two LRU lists, under one lock so that a key is never in both.
struct Lists<V> {
    /// Entries with content, bounded by count and bytes.
    positive: LruCache<Box<str>, Arc<V>>,
    /// Negative entries, bounded by count only.
    negative: LruCache<Box<str>, Arc<V>>,
    /// The negative bound; 0 keeps no negative entry (`LruCache` cannot have capacity 0).
    negative_cap: usize,
}

/// An LRU table bounded by `max_entries` and `max_bytes`, with negative entries in an LRU of
/// their own bounded by `max_negative`.
pub struct Table<V> {
    /// Keyed by request path; values shared with readers, who keep them while answering.
    lists: Mutex<Lists<V>>,
    /// Sum of the entries' weights.
    bytes: AtomicU64,
    /// Entries with content now (mirrors the positive list's length, readable without the lock).
    entries: AtomicUsize,
    /// Negative entries now.
    negative_entries: AtomicUsize,
    /// Byte bound; changed by a configuration reload.
    max_bytes: AtomicU64,
    /// Hits, misses, evictions.
    stats: TableStats,
}

fn capacity(entries: usize) -> NonZeroUsize {
    NonZeroUsize::new(entries.max(1)).expect("at least one")
}

impl<V: Weighed> Table<V> {
    /// An empty table that keeps no negative entry.
    pub fn new(max_entries: usize, max_bytes: u64) -> Self {
        Self::with_negative(max_entries, max_bytes, 0)
    }

    /// An empty table that keeps at most `max_negative` negative entries.
    pub fn with_negative(max_entries: usize, max_bytes: u64, max_negative: usize) -> Self {
        Table {
            lists: Mutex::new(Lists {
                positive: LruCache::new(capacity(max_entries)),
                negative: LruCache::new(capacity(max_negative)),
                negative_cap: max_negative,
            }),
            bytes: AtomicU64::new(0),
            entries: AtomicUsize::new(0),
            negative_entries: AtomicUsize::new(0),
            max_bytes: AtomicU64::new(max_bytes),
            stats: TableStats::default(),
        }
    }

    /// The entry for `key`, marked most recently used.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let found = {
            let mut lists = self.lock();
            match lists.positive.get(key) {
                Some(entry) => Some(entry.clone()),
                None => lists.negative.get(key).cloned(),
            }
        };
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The entry for `key` without touching recency or counters (for the owner's checks).
    pub fn peek(&self, key: &str) -> Option<Arc<V>> {
        let lists = self.lock();
        lists
            .positive
            .peek(key)
            .or_else(|| lists.negative.peek(key))
            .cloned()
    }

    /// Inserts (or replaces) an entry, then evicts least recently used entries until the
    /// bounds hold. An entry heavier than the whole byte bound is not inserted, nor is a
    /// negative entry when the negative bound is 0. Either way the key's previous entry of the
    /// other kind goes: a file that vanished is no longer served, a 404 no longer remembered.
    pub fn insert(&self, key: &str, value: Arc<V>) -> bool {
        let mut lists = self.lock();
        let inserted = if value.negative() {
            self.take_positive(&mut lists, key);
            if lists.negative_cap == 0 {
                false
            } else {
                if let Some((old_key, _)) = lists.negative.push(key.into(), value) {
                    if &*old_key != key {
                        self.count_eviction();
                    }
                }
                true
            }
        } else {
            lists.negative.pop(key);
            let weight = value.weight();
            if weight > self.max_bytes.load(Ordering::Relaxed) {
                self.take_positive(&mut lists, key);
                false
            } else {
                if let Some((old_key, old)) = lists.positive.push(key.into(), value) {
                    // `push` hands back the value it replaced under the same key, or the least
                    // recently used entry it pushed out to respect the count bound: only the
                    // latter is an eviction.
                    self.bytes.fetch_sub(old.weight(), Ordering::Relaxed);
                    if &*old_key != key {
                        self.count_eviction();
                    }
                }
                self.bytes.fetch_add(weight, Ordering::Relaxed);
                self.evict_over_bytes(&mut lists.positive);
                true
            }
        };
        self.publish_lengths(&lists);
        inserted
    }

    /// New bounds (configuration reload): entries beyond them are evicted, least recently used
    /// first.
    pub fn set_bounds(&self, max_entries: usize, max_bytes: u64, max_negative: usize) {
        let mut lists = self.lock();
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
        let cap = capacity(max_entries);
        while lists.positive.len() > cap.get() {
            if let Some((_, evicted)) = lists.positive.pop_lru() {
                self.bytes.fetch_sub(evicted.weight(), Ordering::Relaxed);
                self.count_eviction();
            }
        }
        lists.positive.resize(cap);
        self.evict_over_bytes(&mut lists.positive);
        lists.negative_cap = max_negative;
        while lists.negative.len() > max_negative {
            lists.negative.pop_lru();
            self.count_eviction();
        }
        lists.negative.resize(capacity(max_negative));
        self.publish_lengths(&lists);
    }

    fn take_positive(&self, lists: &mut Lists<V>, key: &str) {
        if let Some(old) = lists.positive.pop(key) {
            self.bytes.fetch_sub(old.weight(), Ordering::Relaxed);
        }
    }

    fn count_eviction(&self) {
        self.stats.evictions.fetch_add(1, Ordering::Relaxed);
        crate::metrics::cache_eviction();
    }

    fn publish_lengths(&self, lists: &Lists<V>) {
        self.entries.store(lists.positive.len(), Ordering::Relaxed);
        self.negative_entries
            .store(lists.negative.len(), Ordering::Relaxed);
    }

    fn evict_over_bytes(&self, map: &mut LruCache<Box<str>, Arc<V>>) {
        while self.bytes.load(Ordering::Relaxed) > self.max_bytes.load(Ordering::Relaxed) {
            match map.pop_lru() {
                Some((_, evicted)) => {
                    self.bytes.fetch_sub(evicted.weight(), Ordering::Relaxed);
                    self.count_eviction();
                }
                None => break,
            }
        }
    }

    /// Removes `key` if it still maps to `expected` (a newer entry is left alone).
    pub fn remove_if(&self, key: &str, expected: &Arc<V>) -> bool {
        let mut lists = self.lock();
        let same = |now: &Arc<V>| Arc::ptr_eq(now, expected);
        let removed = if lists.positive.peek(key).is_some_and(same) {
            self.take_positive(&mut lists, key);
            true
        } else if lists.negative.peek(key).is_some_and(same) {
            lists.negative.pop(key);
            true
        } else {
            false
        };
        self.publish_lengths(&lists);
        removed
    }

    /// Every key and entry, negative ones last, for the owner's sweep.
    pub fn snapshot(&self) -> Vec<(Box<str>, Arc<V>)> {
        let lists = self.lock();
        lists
            .positive
            .iter()
            .chain(lists.negative.iter())
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// Entries with content now.
    pub fn len(&self) -> usize {
        self.entries.load(Ordering::Relaxed)
    }

    /// Negative entries now.
    pub fn negative_len(&self) -> usize {
        self.negative_entries.load(Ordering::Relaxed)
    }

    /// Whether the table holds no entry with content.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held now.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Hits, misses and evictions so far.
    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lists<V>> {
        // A panic while holding the lock cannot leave the lists half-updated in a way that
        // matters (each step is one LruCache call), so a poisoned lock is still usable.
        self.lists
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where readers find the current table: set by the owning actor when it starts, cleared when
/// it stops or dies, as an ETS table lives and dies with its owner. Readers therefore never see
/// the table of a dead owner, and a restarted owner starts empty.
pub struct TableSlot<V> {
    /// The live table, if its owner runs.
    current: RwLock<Option<Arc<OwnedTable<V>>>>,
}

/// A table and whether its owner still runs.
pub struct OwnedTable<V> {
    /// The entries.
    pub table: Table<V>,
    /// Cleared when the owner dies, for readers that still hold the table.
    alive: AtomicBool,
}

impl<V> OwnedTable<V> {
    /// Whether the owner still runs.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

impl<V: Weighed> TableSlot<V> {
    /// An empty slot (no owner yet).
    pub fn new() -> Arc<Self> {
        Arc::new(TableSlot {
            current: RwLock::new(None),
        })
    }

    /// The live table, if any.
    pub fn table(&self) -> Option<Arc<OwnedTable<V>>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Publishes a fresh, empty table (the owner starting) and returns it.
    pub fn publish(
        &self,
        max_entries: usize,
        max_bytes: u64,
        max_negative: usize,
    ) -> Arc<OwnedTable<V>> {
        let table = Arc::new(OwnedTable {
            table: Table::with_negative(max_entries, max_bytes, max_negative),
            alive: AtomicBool::new(true),
        });
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(table.clone());
        table
    }

    /// Withdraws `table` (its owner is gone), unless a newer one was published already.
    pub fn withdraw(&self, table: &Arc<OwnedTable<V>>) {
        table.alive.store(false, Ordering::Release);
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.as_ref().is_some_and(|now| Arc::ptr_eq(now, table)) {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(u64);
    impl Weighed for Blob {
        fn weight(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn eviction_by_count_keeps_the_most_recent() {
        let table = Table::new(2, 1_000);
        table.insert("/a", Arc::new(Blob(1)));
        table.insert("/b", Arc::new(Blob(1)));
        assert!(table.get("/a").is_some(), "a is now the most recent");
        table.insert("/c", Arc::new(Blob(1)));
        assert!(table.peek("/b").is_none(), "b was least recently used");
        assert!(table.peek("/a").is_some() && table.peek("/c").is_some());
        assert_eq!((table.len(), table.bytes()), (2, 2));
    }

    #[test]
    fn eviction_by_bytes() {
        let table = Table::new(100, 10);
        table.insert("/a", Arc::new(Blob(4)));
        table.insert("/b", Arc::new(Blob(4)));
        table.insert("/c", Arc::new(Blob(4)));
        assert!(
            table.peek("/a").is_none(),
            "evicted to stay within 10 bytes"
        );
        assert_eq!(table.bytes(), 8);
        assert_eq!(table.stats().evictions.load(Ordering::Relaxed), 1);
        assert!(
            !table.insert("/huge", Arc::new(Blob(11))),
            "heavier than the bound"
        );
    }

    #[test]
    fn replacing_a_key_adjusts_bytes() {
        let table = Table::new(10, 100);
        table.insert("/a", Arc::new(Blob(10)));
        table.insert("/a", Arc::new(Blob(3)));
        assert_eq!((table.len(), table.bytes()), (1, 3));
    }

    #[test]
    fn remove_if_leaves_a_newer_entry_alone() {
        let table = Table::new(10, 100);
        let old = Arc::new(Blob(1));
        table.insert("/a", old.clone());
        let newer = Arc::new(Blob(2));
        table.insert("/a", newer.clone());
        assert!(!table.remove_if("/a", &old));
        assert!(table.remove_if("/a", &newer));
        assert!(table.is_empty() && table.bytes() == 0);
    }

    #[test]
    fn shrinking_the_bounds_evicts_the_least_recently_used() {
        let table = Table::new(10, 100);
        for key in ["/a", "/b", "/c", "/d"] {
            table.insert(key, Arc::new(Blob(10)));
        }
        table.get("/a");
        table.set_bounds(2, 100, 0);
        assert_eq!(table.len(), 2);
        assert!(table.peek("/a").is_some() && table.peek("/d").is_some());
        table.set_bounds(10, 10, 0);
        assert_eq!((table.len(), table.bytes()), (1, 10));
        assert_eq!(table.stats().evictions.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn hits_and_misses_are_counted() {
        let table = Table::new(10, 100);
        table.insert("/a", Arc::new(Blob(1)));
        table.get("/a");
        table.get("/b");
        assert_eq!(table.stats().hits.load(Ordering::Relaxed), 1);
        assert_eq!(table.stats().misses.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_withdrawn_table_is_gone_for_readers() {
        let slot: Arc<TableSlot<Blob>> = TableSlot::new();
        let first = slot.publish(10, 100, 0);
        first.table.insert("/a", Arc::new(Blob(1)));
        slot.withdraw(&first);
        assert!(slot.table().is_none() && !first.is_alive());
        let second = slot.publish(10, 100, 0);
        assert!(second.table.is_empty(), "a restarted owner starts empty");
        slot.withdraw(&first);
        assert!(
            slot.table().is_some(),
            "withdrawing an old table leaves the new one"
        );
    }

    /// A file of some weight, or a remembered 404.
    enum Entry {
        File(u64),
        Missing,
    }
    impl Weighed for Entry {
        fn weight(&self) -> u64 {
            match self {
                Entry::File(weight) => *weight,
                // Heavy on purpose: negative entries must not count against the byte bound.
                Entry::Missing => 1_000_000,
            }
        }
        fn negative(&self) -> bool {
            matches!(self, Entry::Missing)
        }
    }

    #[test]
    fn negative_entries_never_evict_files() {
        let table = Table::with_negative(2, 100, 3);
        table.insert("/a", Arc::new(Entry::File(10)));
        table.insert("/b", Arc::new(Entry::File(10)));
        for n in 0..50 {
            assert!(table.insert(&format!("/missing/{n}"), Arc::new(Entry::Missing)));
        }
        assert_eq!((table.len(), table.bytes()), (2, 20), "files untouched");
        assert_eq!(
            table.negative_len(),
            3,
            "negative entries have their own bound"
        );
        assert!(table.peek("/missing/49").is_some() && table.peek("/missing/46").is_none());
        assert!(table
            .get("/missing/49")
            .is_some_and(|entry| entry.negative()));
    }

    #[test]
    fn a_key_is_either_a_file_or_a_negative_entry() {
        let table = Table::with_negative(10, 100, 10);
        table.insert("/a", Arc::new(Entry::File(10)));
        table.insert("/a", Arc::new(Entry::Missing));
        assert!(table.get("/a").is_some_and(|entry| entry.negative()));
        assert_eq!(
            (table.len(), table.bytes(), table.negative_len()),
            (0, 0, 1)
        );
        table.insert("/a", Arc::new(Entry::File(7)));
        assert!(table.get("/a").is_some_and(|entry| !entry.negative()));
        assert_eq!(
            (table.len(), table.bytes(), table.negative_len()),
            (1, 7, 0)
        );
    }

    #[test]
    fn a_zero_negative_bound_keeps_no_negative_entry() {
        let table = Table::with_negative(10, 100, 0);
        assert!(!table.insert("/missing", Arc::new(Entry::Missing)));
        assert!(table.peek("/missing").is_none());
        table.set_bounds(10, 100, 1);
        assert!(table.insert("/missing", Arc::new(Entry::Missing)));
        table.set_bounds(10, 100, 0);
        assert_eq!(table.negative_len(), 0);
    }
}
