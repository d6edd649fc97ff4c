//! Shared by the integration tests: the mock upstream and a gateway started in-process,
//! both on ephemeral loopback ports.

#![allow(dead_code)]

pub mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fak_gateway::{ApiKey, Config, Gateway, Limits, ModelSource, ProxySource};
use fak_kernel::{Kernel, Policy};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The key clients present in the tests, and the different key the gateway sends upstream.
pub const CLIENT_KEY: &str = "client-secret-key";
pub const UPSTREAM_KEY: &str = "upstream-secret-key";

/// A running gateway.
pub struct Running {
    pub addr: SocketAddr,
    pub kernel: Arc<Kernel>,
    /// The same routes, for requests sent without a socket (`tower::ServiceExt::oneshot`).
    pub router: axum::Router,
    stop: Option<oneshot::Sender<()>>,
    pub served: JoinHandle<Result<(), fak_gateway::ServeError>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Begins a graceful shutdown.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Options for [`start_gateway`].
pub struct Setup {
    pub upstream: String,
    pub require_key: Option<&'static str>,
    pub upstream_timeout: Duration,
    pub limits: Limits,
    /// A file for the kernel's audit journal (default: none).
    pub journal: Option<std::path::PathBuf>,
}

impl Setup {
    /// A gateway over `upstream` (a base URL ending in `/v1`) requiring [`CLIENT_KEY`].
    pub fn new(upstream: String) -> Setup {
        Setup {
            upstream,
            require_key: Some(CLIENT_KEY),
            upstream_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            journal: None,
        }
    }
}

/// A gateway that stops gracefully when [`Running::stop`] is called.
pub async fn start_gateway(setup: Setup) -> Running {
    start_source(proxy(&setup), &setup).await
}

/// A gateway that stops gracefully when `shutdown` resolves.
pub async fn start_gateway_until(
    setup: Setup,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Running {
    serve(proxy(&setup), &setup, shutdown).await
}

fn proxy(setup: &Setup) -> Arc<dyn ModelSource> {
    let source = ProxySource::new(
        &setup.upstream,
        ApiKey::new(UPSTREAM_KEY),
        setup.upstream_timeout,
    )
    .unwrap();
    Arc::new(source)
}

/// A gateway over `source` (the upstream fields of `setup` unused) that stops gracefully
/// when [`Running::stop`] is called.
pub async fn start_source(source: Arc<dyn ModelSource>, setup: &Setup) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let mut running = serve(source, setup, async {
        let _ = stopped.await;
    })
    .await;
    running.stop = Some(stop);
    running
}

async fn serve(
    source: Arc<dyn ModelSource>,
    setup: &Setup,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Running {
    let base = std::env::current_dir().unwrap();
    let mut builder = Kernel::builder(Policy::builtin_default(&base));
    if let Some(path) = &setup.journal {
        builder = builder.journal(fak_kernel::Journal::open(path).unwrap());
    }
    let kernel = Arc::new(builder.build());
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        require_key: setup.require_key.and_then(ApiKey::new),
        limits: setup.limits.clone(),
    };
    let listener = tokio::net::TcpListener::bind(config.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gateway = Gateway::new(&config, Arc::clone(&kernel), source);
    let router = gateway.router();
    let served = tokio::spawn(gateway.serve(listener, shutdown));
    Running {
        addr,
        kernel,
        router,
        stop: None,
        served,
    }
}

/// A mock upstream and a gateway in front of it.
pub async fn start_pair() -> (Running, upstream::Recorder) {
    let (addr, recorder) = upstream::start().await;
    let gateway = start_gateway(Setup::new(format!("http://{addr}/v1"))).await;
    (gateway, recorder)
}

/// A client that presents [`CLIENT_KEY`].
pub fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {CLIENT_KEY}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// POSTs `body` as JSON with [`CLIENT_KEY`] and returns the whole response text.
pub async fn post_text(url: &str, body: &serde_json::Value) -> String {
    let response = client().post(url).json(body).send().await.unwrap();
    response.text().await.unwrap()
}

/// GETs `url` with [`CLIENT_KEY`] and returns the whole response text.
pub async fn get_text(url: &str) -> String {
    let response = client().get(url).send().await.unwrap();
    response.text().await.unwrap()
}

/// POSTs a streaming chat request with [`CLIENT_KEY`], checks that the answer is an event
/// stream ending in `[DONE]`, and returns the chunks before it.
pub async fn stream_chunks(url: &str, body: &serde_json::Value) -> Vec<serde_json::Value> {
    let r = client().post(url).json(body).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let data = sse_data(&r.text().await.unwrap());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}
