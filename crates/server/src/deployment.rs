//! Starting a deployment: bind the listeners, build storage and keys, open the
//! users, audit log and rate limits, and serve the broker (and the embedded
//! store). `sealdrop serve` and the test suites go through here alike.

use std::future::Future;
use std::path::{Path, PathBuf};

use axum::Router;
use sealdrop_broker::audit::Audit;
use sealdrop_broker::auth::oidc::OidcVerifier;
use sealdrop_broker::metrics::Metrics;
use sealdrop_broker::ratelimit::RateLimiter;
use sealdrop_broker::{AppState, Config, Inner};
use sealdrop_state::{Database, StateError};
use sealdrop_store::Store;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use sealdrop_http::Limits;

use crate::stack::{self, StackError};

/// Why a deployment cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// Storage or keys.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The state database (users and tokens).
    #[error(transparent)]
    State(#[from] StateError),
}

/// A directory, file or socket failed: [`StackError::Io`], which names what
/// was being done.
fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DeploymentError {
    let error = stack::io(context);
    move |source| DeploymentError::Stack(error(source))
}

/// The connection limits of both listeners: presigned URLs are public, so
/// the store's listener is as exposed as the broker's.
fn limits(config: &Config) -> Limits {
    Limits {
        max_connections: config.max_connections,
        header_timeout: std::time::Duration::from_secs(config.header_timeout_secs),
        body_timeout: std::time::Duration::from_secs(config.body_timeout_secs),
        ..Limits::default()
    }
}

/// A started deployment, not serving yet: its addresses are bound (port 0
/// picks a free one), so what it prints is where it will answer.
pub struct Deployment {
    config: Config,
    state: AppState,
    listener: TcpListener,
    store: Option<(Store, TcpListener)>,
    description: String,
    new_keyring: Option<PathBuf>,
    first_login: Option<Zeroizing<String>>,
}

impl Deployment {
    /// Starts what `config` describes.
    pub async fn start(mut config: Config) -> Result<Deployment, DeploymentError> {
        create_private_dir(&config.data_dir)?;
        // Bind first, so the public URL and the store's CORS origin are real.
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(io(format!("binding {}", config.listen)))?;
        config.listen = listener
            .local_addr()
            .map_err(io("reading the listener's address"))?;
        let started = stack::start(&mut config).await?;

        let db = open_state(&config).await?;
        let first_login = bootstrap_admin(&config, &db).await?;
        let audit_path = config.audit_log_path();
        let audit =
            Audit::to_file(&audit_path).map_err(io(format!("opening {}", audit_path.display())))?;
        let description = started.stack.description.clone();
        let state = AppState::new(Inner {
            oidc: config.oidc.clone().map(OidcVerifier::new),
            rate: RateLimiter::new(config.rate_limit),
            api_rate: RateLimiter::new(config.api_rate_limit),
            public_rate: RateLimiter::new(config.public_rate_limit),
            db,
            binding: Default::default(),
            audit,
            metrics: Metrics::default(),
            storage: started.stack.storage,
            keys: started.stack.keys,
            storage_origin: started.stack.storage_origin,
            readiness: Default::default(),
            config: config.clone(),
        });
        // Opened now so that a broken key provider shows at start; if it is
        // only unreachable, SSE uploads and downloads answer 503 until it is back.
        if let Err(e) = state.binding().await {
            tracing::warn!(error = %e, "the object binding key could not be opened yet");
        }
        Ok(Deployment {
            config,
            state,
            listener,
            store: started.store,
            description,
            new_keyring: started.new_keyring,
            first_login,
        })
    }

    /// The configuration, with the addresses actually bound.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The URL people open.
    pub fn public_url(&self) -> String {
        self.config.public_url()
    }

    /// Storage and keys, for people.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Where a local keyring was created on this start (back it up).
    pub fn new_keyring(&self) -> Option<&Path> {
        self.new_keyring.as_deref()
    }

    /// The first admin's token, created on this start because there were no
    /// users. Shown once.
    pub fn take_first_login(&mut self) -> Option<Zeroizing<String>> {
        self.first_login.take()
    }

    /// Serves the broker (API and the web app from `web_root`) and, for the
    /// embedded default, the store, until `shutdown` completes.
    pub async fn serve(
        self,
        web_root: Option<&Path>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), DeploymentError> {
        let limits = limits(&self.config);
        let sweeper = tokio::spawn(sealdrop_broker::lifecycle::run(self.state.clone()));
        let app = sealdrop_broker::router(self.state, web_root);
        let store = spawn_store(self.store, limits);
        let service = hyper_util::service::TowerToHyperService::new(app);
        let served = sealdrop_http::serve(self.listener, service, limits, shutdown)
            .await
            .map_err(io("serving HTTP"));
        store.abort();
        sweeper.abort();
        served
    }

    /// The broker's state (users, storage, keys), shared with its router.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The broker as a router, for driving it in-process
    /// (`tower::ServiceExt::oneshot`), with the embedded store serving on its
    /// listener in the background until the returned [`Serving`] is dropped.
    pub fn into_router(self, web_root: Option<&Path>) -> (Router, Serving) {
        let store = spawn_store(self.store, limits(&self.config));
        let app = sealdrop_broker::router(self.state, web_root);
        (app, Serving { task: store })
    }

    /// Serves on the current runtime in the background (tests): returns a
    /// handle that stops both when dropped.
    pub fn spawn(self, web_root: Option<PathBuf>) -> Serving {
        let task = tokio::spawn(async move {
            let until_dropped = std::future::pending();
            if let Err(e) = self.serve(web_root.as_deref(), until_dropped).await {
                tracing::error!(error = %e, "the deployment stopped");
            }
        });
        Serving { task }
    }
}

/// Serves the embedded store, if the deployment has one, in the background,
/// logging why it stopped.
fn spawn_store(store: Option<(Store, TcpListener)>, limits: Limits) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Some((store, listener)) = store
            && let Err(e) = store.serve_within(listener, limits).await
        {
            tracing::error!(error = %e, "the embedded store stopped");
        }
    })
}

/// A deployment serving in the background; dropping it stops it (the task is
/// aborted: no graceful shutdown, which tests do not need).
pub struct Serving {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens the state database `config` names (SQLite in the data directory, or
/// PostgreSQL), migrated, with a `users.json` from an earlier release imported.
/// `sealdrop serve` and `sealdrop admin` open it alike.
pub async fn open_state(config: &Config) -> Result<Database, StateError> {
    let db = Database::open(&config.state_location()).await?;
    if let Some(report) = db.import_users_file(&config.users_path()).await? {
        tracing::info!(
            users = report.users,
            tokens = report.tokens,
            new_rows = report.inserted,
            "imported users.json into the database (kept as users.json.imported)"
        );
    }
    Ok(db)
}

/// The first `admin`, on a database with no users: by default only for the
/// embedded default on its own SQLite file (one person trying sealdrop on
/// their machine), else only when asked for with `--bootstrap-admin`. A shared
/// or cloud deployment must not print a credential into whatever collects its
/// output; its operator runs `sealdrop admin user add` in a terminal instead.
async fn bootstrap_admin(
    config: &Config,
    db: &Database,
) -> Result<Option<Zeroizing<String>>, StateError> {
    let embedded_default = config.database_url.is_none()
        && config.oidc.is_none()
        && matches!(
            config.validate(),
            Ok(sealdrop_broker::config::Deployment::Embedded)
        );
    if !db.is_empty().await? {
        return Ok(None);
    }
    if !(embedded_default || config.bootstrap_admin) {
        tracing::warn!(
            "there are no users yet: create one with `sealdrop admin user add NAME` \
             (its token is printed on your terminal), or start once with --bootstrap-admin"
        );
        return Ok(None);
    }
    match db.add_user("admin", None).await {
        Ok(issued) => Ok(Some(issued.token)),
        // Another replica bootstrapped at the same moment: it prints the link.
        Err(StateError::UserExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), DeploymentError> {
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io(format!("restricting {}", dir.display())))?;
    }
    Ok(())
}
