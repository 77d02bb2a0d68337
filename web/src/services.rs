//! What a signed-in session works with: the API client, the user's limits, the
//! worker pool (started once, in the background, at sign-in) and the shared
//! budget of parts in flight.

use std::rc::Rc;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use sealdrop_api::Limits;

use crate::api::Api;
use crate::pool::WorkerPool;
use crate::tuning;
use crate::upload::slots::Slots;

type PoolFuture = Shared<LocalBoxFuture<'static, Result<Rc<WorkerPool>, String>>>;

/// The session's services.
pub struct Services {
    /// The API client.
    pub api: Api,
    /// Who is signed in (for a file request: who asked for the files).
    pub user: String,
    /// What the broker accepts.
    pub limits: Limits,
    /// The byte budget of parts in flight over all uploads.
    pub slots: Rc<Slots>,
    pool: PoolFuture,
}

impl Services {
    /// Starts the worker pool and returns the session's services.
    pub fn new(api: Api, user: String, limits: Limits) -> Rc<Services> {
        let pool = WorkerPool::start(tuning::WORKERS).boxed_local().shared();
        // Start the workers now, so the first transfer does not wait for them.
        wasm_bindgen_futures::spawn_local(pool.clone().map(drop));
        Rc::new(Services {
            api,
            user,
            limits,
            slots: Slots::new(tuning::BYTES_IN_FLIGHT),
            pool,
        })
    }

    /// How long presigned URLs live, in ms (the broker's setting).
    pub fn presign_ttl_ms(&self) -> f64 {
        self.limits.presign_ttl_secs as f64 * 1000.0
    }

    /// The worker pool, once started.
    pub async fn pool(&self) -> Result<Rc<WorkerPool>, String> {
        self.pool
            .clone()
            .await
            .map_err(|why| format!("The encryption workers could not start: {why}"))
    }
}
