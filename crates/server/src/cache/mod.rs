//! `web_server_cache`: an in-memory LRU cache of static files, under `web_server_cache_sup`
//! ([`sup`]).
//!
//! Ownership follows ETS: the cache actor owns the table (it loads entries, evicts, invalidates
//! and sweeps), but a hit on the request path reads the table directly through a
//! [`TableSlot`], with no message round trip. When the actor dies the table dies with it: the
//! slot is emptied, and the restarted actor publishes a fresh, empty table, so readers never see
//! a stale or half-built one. Misses go to the actor, which loads each file once however many
//! requests want it at the same moment.
//!
//! A miss carries what the request was routed to ([`Loader::Source`]: for static files, the
//! mount and the path below it), so the owner loads without looking the route up again, and
//! each entry remembers where it came from for revalidation.
//!
//! # Layout
//!
//! - `sup`: `web_server_cache_sup` and the cache's child spec.
//! - `table`: the LRU table bounded by entries and bytes, and the slot readers find it through.
//! - `files`: what the static-file cache holds ([`StaticEntry`]) and how it loads it.

mod files;
pub mod sup;
pub mod table;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::fut::{wrap_future, ActorFutureExt};
use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, ResponseFuture};
use tokio::sync::oneshot;

pub use files::{StaticCache, StaticLoader, StaticSource};
pub use table::{OwnedTable, TableSlot, Weighed};

/// The supervision id of the cache.
pub const ID: &str = "web_server_cache";

/// Loads and checks entries; runs on the blocking pool, never on an event loop.
pub trait Loader: Send + Sync + 'static {
    /// What the table holds.
    type Entry: Weighed + Send + Sync + 'static;
    /// Where a missed key's content is to be found, as the request's route said.
    type Source: Send + 'static;
    /// The entry for `key` from `source`, or `None` when that key must not be cached (too
    /// large, not a regular file, a redirect …): the request is then answered without the
    /// cache.
    fn load(&self, key: &str, source: Self::Source) -> Option<Self::Entry>;
    /// Whether `entry`, cached under `key`, still matches what is on disk (size, modification
    /// time, inode).
    fn unchanged(&self, key: &str, entry: &Self::Entry) -> bool;
}

/// What a cache holds and has done, for tests, embedders and operators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries held.
    pub entries: usize,
    /// Bytes held.
    pub bytes: u64,
    /// Hits since the owner (re)started.
    pub hits: u64,
    /// Misses since the owner (re)started.
    pub misses: u64,
    /// Evictions since the owner (re)started.
    pub evictions: u64,
    /// Files loaded since the owner (re)started.
    pub loads: u64,
    /// Negative entries held (remembered 404s and other refusals).
    pub negative_entries: usize,
    /// The keys of the files held, most recently used first.
    pub keys: Vec<String>,
    /// Cached files kept open for `sendfile`, across every cache of the process (each holds a
    /// descriptor, and at most a fixed number are kept).
    pub open_files: usize,
}

/// The cache's bounds and revalidation period (`cache.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// Bytes held at most (`cache.max_bytes`).
    pub max_bytes: u64,
    /// Entries held at most (`cache.max_entries`).
    pub max_entries: usize,
    /// How long an entry is trusted before its file is checked again (`cache.revalidate_ms`);
    /// zero checks on every hit.
    pub revalidate: Duration,
    /// Negative entries (paths answered 404, 403 or 400) held at most, in a bound of their own
    /// (`cache.max_negative_entries`); 0 remembers none.
    pub max_negative_entries: usize,
}

/// An entry with the time its file was last checked.
pub struct Fresh<E> {
    /// The cached value.
    pub value: E,
    /// Milliseconds since [`epoch`] when the file was last found unchanged.
    checked_ms: AtomicU64,
}

impl<E: Weighed> Weighed for Fresh<E> {
    fn weight(&self) -> u64 {
        self.value.weight()
    }

    fn negative(&self) -> bool {
        self.value.negative()
    }
}

/// Revalidation is counted in milliseconds on the coarse clock, read on every cache hit.
fn now_ms() -> u64 {
    crate::coarse_time::monotonic_millis()
}

impl<E> Fresh<E> {
    fn new(value: E) -> Self {
        Fresh {
            value,
            checked_ms: AtomicU64::new(now_ms()),
        }
    }

    /// Whether the entry was checked within `period`.
    pub fn is_fresh(&self, period: Duration) -> bool {
        now_ms().saturating_sub(self.checked_ms.load(Ordering::Relaxed)) < period.as_millis() as u64
    }
}

/// What connections hold: the table slot for hits and the owner's address for misses.
pub struct CacheHandle<L: Loader> {
    /// The live table, if the owner runs.
    pub slot: Arc<TableSlot<Fresh<L::Entry>>>,
    /// The owner's current address (set on every start).
    owner: Mutex<Option<Addr<Cache<L>>>>,
    /// Bounds and revalidation period; a reload replaces them.
    options: Mutex<CacheOptions>,
    /// The revalidation period in milliseconds, read on every hit.
    revalidate_ms: AtomicU64,
}

impl<L: Loader> CacheHandle<L> {
    /// A handle for a cache with these options; the actor fills it when it starts.
    pub fn new(options: CacheOptions) -> Arc<Self> {
        Arc::new(CacheHandle {
            slot: TableSlot::new(),
            owner: Mutex::new(None),
            options: Mutex::new(options),
            revalidate_ms: AtomicU64::new(options.revalidate.as_millis() as u64),
        })
    }

    /// The current options.
    pub fn options(&self) -> CacheOptions {
        *self.options.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// New bounds and revalidation period (configuration reload); the live table shrinks or
    /// grows at once, keeping what still fits.
    pub fn set_options(&self, options: CacheOptions) {
        *self.options.lock().unwrap_or_else(|p| p.into_inner()) = options;
        self.revalidate_ms
            .store(options.revalidate.as_millis() as u64, Ordering::Relaxed);
        if let Some(owned) = self.slot.table() {
            owned.table.set_bounds(
                options.max_entries,
                options.max_bytes,
                options.max_negative_entries,
            );
        }
    }

    fn revalidate(&self) -> Duration {
        Duration::from_millis(self.revalidate_ms.load(Ordering::Relaxed))
    }

    /// A fresh entry for `key` from the table, without leaving the calling thread.
    pub fn hit(&self, key: &str) -> Option<Arc<Fresh<L::Entry>>> {
        let table = self.slot.table()?;
        let entry = table.table.get(key)?;
        let revalidate = self.revalidate();
        (revalidate > Duration::ZERO && entry.is_fresh(revalidate)).then_some(entry)
    }

    /// The current table's contents and counters (all zero while no owner runs).
    pub fn stats(&self) -> CacheStats {
        let Some(owned) = self.slot.table() else {
            return CacheStats::default();
        };
        let table = &owned.table;
        let counters = table.stats();
        CacheStats {
            entries: table.len(),
            bytes: table.bytes(),
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            evictions: counters.evictions.load(Ordering::Relaxed),
            loads: counters.loads.load(Ordering::Relaxed),
            negative_entries: table.negative_len(),
            keys: table
                .snapshot()
                .into_iter()
                .filter(|(_, entry)| !entry.negative())
                .map(|(key, _)| key.into())
                .collect(),
            open_files: crate::zero_copy::open_bodies(),
        }
    }

    /// Asks the owner to load (or revalidate) `key` from `source`; `None` when it cannot be
    /// cached or the owner is not running.
    pub async fn miss(&self, key: &str, source: L::Source) -> Option<Arc<Fresh<L::Entry>>> {
        let owner = self.owner.lock().ok()?.clone()?;
        let load = Load {
            key: key.into(),
            source,
            loader: PhantomData,
        };
        owner.send(load).await.ok().flatten()
    }
}

/// Loads `key` into the table (or confirms a stale entry), answering with the entry.
struct Load<L: Loader> {
    /// The request path.
    key: Box<str>,
    /// Where its content is.
    source: L::Source,
    /// Ties the answer's type to the loader.
    loader: PhantomData<fn() -> L>,
}

impl<L: Loader> Message for Load<L> {
    type Result = Option<Arc<Fresh<L::Entry>>>;
}

/// Waiters for one key's load.
type Waiters<E> = Vec<oneshot::Sender<Option<Arc<Fresh<E>>>>>;

/// The cache owner; see the module documentation.
pub struct Cache<L: Loader> {
    /// Shared with connections.
    handle: Arc<CacheHandle<L>>,
    /// The table this incarnation owns.
    table: Arc<OwnedTable<Fresh<L::Entry>>>,
    /// Loads and checks files.
    loader: Arc<L>,
    /// Requests waiting for a load in progress, by key: concurrent misses load once.
    pending: HashMap<Box<str>, Waiters<L::Entry>>,
    /// A sweep is running on the blocking pool.
    sweeping: bool,
}

impl<L: Loader> Cache<L> {
    pub(crate) fn new(handle: Arc<CacheHandle<L>>, loader: Arc<L>) -> Self {
        let options = handle.options();
        let table = handle.slot.publish(
            options.max_entries,
            options.max_bytes,
            options.max_negative_entries,
        );
        Cache {
            handle,
            table,
            loader,
            pending: HashMap::new(),
            sweeping: false,
        }
    }

    /// Checks every entry older than half the period, on the blocking pool; drops those whose
    /// file changed or went away, so a change is noticed within the revalidation period.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.sweeping {
            return;
        }
        let half = self.handle.revalidate() / 2;
        let due: Vec<_> = self
            .table
            .table
            .snapshot()
            .into_iter()
            .filter(|(_, entry)| !entry.is_fresh(half))
            .collect();
        if due.is_empty() {
            return;
        }
        self.sweeping = true;
        let loader = self.loader.clone();
        let checking = tokio::task::spawn_blocking(move || {
            due.into_iter()
                .map(|(key, entry)| {
                    let unchanged = loader.unchanged(&key, &entry.value);
                    if unchanged {
                        entry.checked_ms.store(now_ms(), Ordering::Relaxed);
                    }
                    (key, entry, unchanged)
                })
                .collect::<Vec<_>>()
        });
        ctx.spawn(wrap_future::<_, Self>(checking).map(|checked, cache, _| {
            cache.sweeping = false;
            for (key, entry, unchanged) in checked.unwrap_or_default() {
                if !unchanged {
                    cache.table.table.remove_if(&key, &entry);
                }
            }
        }));
    }
}

impl<L: Loader> Cache<L> {
    /// Sweeps every half revalidation period, as currently configured. The pending timer also
    /// keeps the actor alive without anyone holding its address.
    fn schedule_sweep(&mut self, ctx: &mut Context<Self>) {
        let period = (self.handle.revalidate() / 2).max(Duration::from_millis(50));
        ctx.run_later(period, |cache, ctx| {
            cache.sweep(ctx);
            cache.schedule_sweep(ctx);
        });
    }
}

impl<L: Loader> Actor for Cache<L> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Ok(mut owner) = self.handle.owner.lock() {
            *owner = Some(ctx.address());
        }
        self.schedule_sweep(ctx);
    }
}

impl<L: Loader> Drop for Cache<L> {
    /// The table dies with its owner, however the owner ends (stop, kill, panic).
    fn drop(&mut self) {
        self.handle.slot.withdraw(&self.table);
    }
}

impl<L: Loader> Handler<Load<L>> for Cache<L> {
    type Result = ResponseFuture<Option<Arc<Fresh<L::Entry>>>>;

    fn handle(&mut self, msg: Load<L>, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        let answer = Box::pin(async move { rx.await.ok().flatten() });
        if let Some(waiters) = self.pending.get_mut(&msg.key) {
            waiters.push(tx);
            return answer;
        }
        self.pending.insert(msg.key.clone(), vec![tx]);
        let loader = self.loader.clone();
        let stale = self.table.table.peek(&msg.key);
        let Load { key, source, .. } = msg;
        let loading = tokio::task::spawn_blocking({
            let key = key.clone();
            move || match stale {
                // A stale entry whose file did not change only needs its check time renewed.
                Some(entry) if loader.unchanged(&key, &entry.value) => {
                    entry.checked_ms.store(now_ms(), Ordering::Relaxed);
                    (Some(entry), false)
                }
                _ => (
                    loader
                        .load(&key, source)
                        .map(|value| Arc::new(Fresh::new(value))),
                    true,
                ),
            }
        });
        ctx.spawn(
            wrap_future::<_, Self>(loading).map(move |loaded, cache, _| {
                let entry = match loaded {
                    Ok((Some(entry), fresh_load)) => {
                        if fresh_load {
                            if !entry.negative() {
                                cache
                                    .table
                                    .table
                                    .stats()
                                    .loads
                                    .fetch_add(1, Ordering::Relaxed);
                            }
                            if !cache.table.table.insert(&key, entry.clone()) {
                                tracing::debug!(%key, "too large for the cache");
                            }
                        }
                        Some(entry)
                    }
                    Ok((None, _)) => {
                        if let Some(stale) = cache.table.table.peek(&key) {
                            cache.table.table.remove_if(&key, &stale);
                        }
                        None
                    }
                    Err(err) => {
                        tracing::warn!(%key, %err, "cache load failed");
                        None
                    }
                };
                for waiter in cache.pending.remove(&key).unwrap_or_default() {
                    let _ = waiter.send(entry.clone());
                }
            }),
        );
        answer
    }
}
