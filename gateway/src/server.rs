//! Starting and stopping: bind, serve until told to stop, finish what is in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use fak_kernel::Kernel;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::ops::metrics::Metrics;
use crate::routes;
use crate::source::ModelSource;
use crate::state::AppState;
use crate::traces::Traces;

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// The gateway: a kernel, a model source and the HTTP surface over them.
#[derive(Clone, Debug)]
pub struct Gateway {
    state: Arc<AppState>,
}

impl Gateway {
    pub fn new(config: &Config, kernel: Arc<Kernel>, source: Arc<dyn ModelSource>) -> Gateway {
        let limits = config.limits.clone();
        let metrics = Metrics::new();
        for collector in source.collectors() {
            metrics.register(collector);
        }
        Gateway {
            state: Arc::new(AppState {
                traces: Traces::new(Arc::clone(&kernel), limits.max_traces, limits.trace_idle),
                kernel,
                source,
                key: config.require_key.clone(),
                metrics,
                slots: Arc::new(Semaphore::new(limits.max_concurrent)),
                limits,
            }),
        }
    }

    pub fn router(&self) -> Router {
        routes::router(Arc::clone(&self.state))
    }

    /// Serves on `listener` until `shutdown` resolves, then stops accepting and returns
    /// once every in-flight request (streams included) has finished.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let state = Arc::clone(&self.state);
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.traces.sweep_period());
            loop {
                tick.tick().await;
                state.traces.sweep(Instant::now());
            }
        });
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Serve);
        sweeper.abort();
        served
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM stops the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs the gateway on its own runtime until SIGTERM or Ctrl-C: what `fak serve` calls.
/// `on_listening` is told the bound address once the socket is open.
pub fn run(
    config: &Config,
    kernel: Arc<Kernel>,
    source: Arc<dyn ModelSource>,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().unwrap_or(config.addr);
        // The signal handlers are installed before anyone is told the server is up.
        let shutdown = shutdown_signal();
        let shutdown = tokio::spawn(shutdown);
        on_listening(addr);
        Gateway::new(config, kernel, source)
            .serve(listener, async {
                let _ = shutdown.await;
            })
            .await
    })
}
