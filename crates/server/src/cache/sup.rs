//! `web_server_cache_sup`: supervises the cache owner ([`super::Cache`]). Its intensity is
//! generous: a cache restart costs only warm-up, and connections keep serving (from disk)
//! meanwhile.

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};

use super::{Cache, CacheHandle, Loader};

/// The supervision id of the cache supervisor.
pub const ID: &str = "web_server_cache_sup";

/// `web_server_cache_sup` with its one child, `web_server_cache`, which owns `handle`'s table
/// and loads through `loader`.
pub fn child_spec<L: Loader>(handle: Arc<CacheHandle<L>>, loader: Arc<L>) -> ChildSpec {
    SupervisorSpec::new(
        ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(ChildSpec::worker(super::ID, move |ctx| {
        Ok(ctx.start(Cache::new(handle.clone(), loader.clone())).into())
    }))
    .into_child_spec()
}
