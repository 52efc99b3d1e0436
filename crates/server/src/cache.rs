//! `web_server_cache` under `web_server_cache_sup`. The file cache itself (an LRU table owned by
//! this actor and read directly by connections) arrives with issue 5; today the actor holds its
//! place in the tree and restarts like any child.

use std::time::Duration;

use actix::{Actor, AsyncContext, Context};
use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};

/// The supervision id of the cache supervisor.
pub const CACHE_SUP_ID: &str = "web_server_cache_sup";
/// The supervision id of the cache.
pub const CACHE_ID: &str = "web_server_cache";

/// The cache owner.
pub struct Cache;

impl Actor for Cache {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The sweep interval is where revalidation and eviction will run; it also keeps the
        // actor alive without anyone holding its address.
        ctx.run_interval(Duration::from_secs(1), |_, _| {});
    }
}

/// `web_server_cache_sup` with its one child.
pub fn child_spec() -> ChildSpec {
    SupervisorSpec::new(
        CACHE_SUP_ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(ChildSpec::worker(CACHE_ID, |ctx| {
        Ok(ctx.start(Cache).into())
    }))
    .into_child_spec()
}
