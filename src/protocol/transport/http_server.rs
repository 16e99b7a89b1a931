//! `privact serve`: the protocol's server role behind HTTP/2 and HTTP/1.1 over TLS (axum on
//! tokio, rustls). Each session is the same byte-in, byte-out server the app runs in process
//! ([`Server`] for classification, [`DenoiseServer`] for denoising), keyed by the hash of the
//! client's keys; it holds evaluation keys only.
//!
//! Routes: `POST /v1/sessions` (a `Setup` message → `SetupAck`, session id in
//! `x-privact-session`), `POST /v1/sessions/{id}` (every later message), `GET /healthz`,
//! `GET /metrics` (Prometheus text).
//!
//! Limits that keep it alive: body size per route, a memory budget for held keys with
//! least-recently-used eviction (an evicted id gets 404 `x-privact-error: session-expired`),
//! a maximum number of sessions, at most `max_concurrent` evaluations at once (503 beyond),
//! a deadline for reading a request body (408 for slow clients), and graceful shutdown.
//! CPU-heavy evaluation runs on the blocking pool, never on the async threads. Logs carry
//! routes, sizes, statuses and timings only: no pixel data, keys, ciphertexts or paths.

use super::http_client::{CONTENT_TYPE, ERROR_HEADER, SESSION_HEADER};
use crate::model::denoiser::Denoiser;
use crate::model::denoiser::he::MaskPolicy;
use crate::protocol::classify::server::{ClassifierModel, Server};
use crate::protocol::denoise::server::DenoiseServer;
use crate::protocol::messages::{Message, Task};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the service allows; the defaults suit one 2-core machine.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest `Setup` body (parameters and evaluation keys).
    pub max_setup_bytes: usize,
    /// Largest body of any other request (ciphertexts of one slice or round).
    pub max_request_bytes: usize,
    /// Sessions held at once; the least recently used goes first.
    pub max_sessions: usize,
    /// Budget for what sessions hold in memory (bytes): their evaluation keys plus the
    /// classifier's prepared plaintexts, which all sessions of a parameter set share.
    pub key_memory_budget: u64,
    /// Evaluations running at once; more get 503 at once (the client may retry).
    pub max_concurrent: usize,
    /// Deadline to receive a request body (slow clients get 408).
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_setup_bytes: 128 << 20,
            max_request_bytes: 1 << 30,
            max_sessions: 64,
            key_memory_budget: 4 << 30,
            max_concurrent: 4,
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The models the service evaluates (public to nobody: they never leave the server).
pub struct Models {
    /// Shared by every classification session (prepared once per parameter set).
    pub classifier: Arc<ClassifierModel>,
    pub linear: Denoiser,
    pub nonlinear: Denoiser,
    pub policy: MaskPolicy,
}

/// One session's server: exactly the in-process byte servers.
enum Engine {
    Classify(Box<Server>),
    Denoise(Box<DenoiseServer>),
}

impl Engine {
    fn handle(&mut self, request: &[u8]) -> Vec<u8> {
        match self {
            Engine::Classify(s) => s.handle(request),
            Engine::Denoise(s) => s.handle(request),
        }
    }
}

struct Entry {
    engine: Arc<tokio::sync::Mutex<Engine>>,
    ack: Vec<u8>,
    key_memory: u64,
    last_used: Instant,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// Prometheus metrics of the service.
struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    rejections: Family<ReasonLabels, Counter>,
    bytes_in: Counter,
    bytes_out: Counter,
    sessions: Gauge,
    key_memory: Gauge,
    model_memory: Gauge,
    evictions: Counter,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("privact");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ])
        });
        let rejections = Family::<ReasonLabels, Counter>::default();
        let (bytes_in, bytes_out, evictions) =
            (Counter::default(), Counter::default(), Counter::default());
        let sessions = Gauge::default();
        let key_memory = Gauge::default();
        let model_memory = Gauge::default();
        registry.register(
            "requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Request latency by route and status",
            latency.clone(),
        );
        registry.register(
            "rejections",
            "Requests refused by a limit",
            rejections.clone(),
        );
        registry.register("received_bytes", "Request body bytes", bytes_in.clone());
        registry.register("sent_bytes", "Response body bytes", bytes_out.clone());
        registry.register("sessions", "Sessions held", sessions.clone());
        registry.register(
            "key_memory_bytes",
            "Evaluation-key memory of the sessions held",
            key_memory.clone(),
        );
        registry.register(
            "model_memory_bytes",
            "Prepared model plaintexts shared by the sessions",
            model_memory.clone(),
        );
        registry.register("evictions", "Sessions evicted (LRU)", evictions.clone());
        Self {
            registry,
            requests,
            latency,
            rejections,
            bytes_in,
            bytes_out,
            sessions,
            key_memory,
            model_memory,
            evictions,
        }
    }

    fn observe(&self, route: &str, status: StatusCode, seconds: f64) {
        let labels = RouteLabels {
            route: route.to_string(),
            status: status.as_u16(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    fn reject(&self, reason: &str) {
        self.rejections
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }
}

/// Shared state of the service, passed explicitly to every handler.
struct Service {
    models: Arc<Models>,
    limits: Limits,
    sessions: Mutex<HashMap<String, Entry>>,
    busy: Arc<tokio::sync::Semaphore>,
    metrics: Metrics,
}

type Shared = Arc<Service>;

/// The HTTP application: routes, body limits and state (TLS and the listener are the
/// caller's; see [`spawn`]).
fn router(service: Shared) -> Router {
    let setup_limit = service.limits.max_setup_bytes;
    let request_limit = service.limits.max_request_bytes;
    Router::new()
        .route(
            "/v1/sessions",
            post(open_session).layer(DefaultBodyLimit::max(setup_limit)),
        )
        .route(
            "/v1/sessions/{id}",
            post(session_request).layer(DefaultBodyLimit::max(request_limit)),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(service)
}

/// A plain-text refusal with its reason in `x-privact-error`.
fn refuse(status: StatusCode, reason: &'static str, text: &str) -> Response {
    let mut r = (status, format!("{text}\n")).into_response();
    r.headers_mut()
        .insert(ERROR_HEADER, HeaderValue::from_static(reason));
    r
}

/// A protocol message (a reply or the server's `Error`): 200, or 422 for an `Error`.
fn message_response(bytes: Vec<u8>, session: Option<&str>) -> Response {
    let status = match Message::decode(&bytes) {
        Ok(Message::Error { .. }) | Err(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Ok(_) => StatusCode::OK,
    };
    let mut r = (status, Body::from(bytes)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(id) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
        r.headers_mut().insert(SESSION_HEADER, id);
    }
    r
}

/// Reads the whole body within the read deadline (slow clients get 408).
async fn read_body(service: &Service, body: Body, limit: usize) -> Result<Bytes, Response> {
    match tokio::time::timeout(
        service.limits.read_timeout,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Ok(Ok(bytes)) => {
            service.metrics.bytes_in.inc_by(bytes.len() as u64);
            Ok(bytes)
        }
        Ok(Err(_)) => {
            service.metrics.reject("too_large");
            Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                &format!("request body over the {limit}-byte limit"),
            ))
        }
        Err(_) => {
            service.metrics.reject("slow_client");
            Err(refuse(
                StatusCode::REQUEST_TIMEOUT,
                "slow-client",
                "request body not received in time",
            ))
        }
    }
}

/// One evaluation slot, or 503 when all are taken.
fn slot(service: &Service) -> Result<tokio::sync::OwnedSemaphorePermit, Box<Response>> {
    service.busy.clone().try_acquire_owned().map_err(|_| {
        service.metrics.reject("busy");
        Box::new(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "all evaluation slots are busy; retry shortly",
        ))
    })
}

async fn open_session(State(service): State<Shared>, body: Body) -> Response {
    let t = Instant::now();
    let r = open_session_inner(&service, body).await;
    service
        .metrics
        .observe("open_session", r.status(), t.elapsed().as_secs_f64());
    tracing::info!(
        route = "open_session",
        status = r.status().as_u16(),
        ms = t.elapsed().as_millis() as u64
    );
    r
}

async fn open_session_inner(service: &Shared, body: Body) -> Response {
    let bytes = match read_body(service, body, service.limits.max_setup_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = session_id(&bytes);
    // The same keys again: the session is still there (a client re-establishing itself).
    if let Some(ack) = touch(service, &id) {
        return message_response(ack, Some(&id));
    }
    let task = match Message::decode(&bytes) {
        Ok(Message::Setup { task, .. }) => task,
        _ => {
            service.metrics.reject("not_setup");
            return refuse(
                StatusCode::BAD_REQUEST,
                "not-setup",
                "POST /v1/sessions takes a Setup message",
            );
        }
    };
    let permit = match slot(service) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let models = service.models.clone();
    let made = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut engine = match task {
            Task::ClassifyKidney => {
                Engine::Classify(Box::new(Server::shared(models.classifier.clone())))
            }
            Task::DenoiseLinear | Task::DenoiseNonlinear => {
                Engine::Denoise(Box::new(DenoiseServer::with_policy(
                    models.linear.clone(),
                    models.nonlinear.clone(),
                    models.policy,
                )))
            }
        };
        let reply = engine.handle(&bytes);
        (engine, reply)
    })
    .await;
    let Ok((engine, reply)) = made else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "evaluation failed",
        );
    };
    let Ok(Message::SetupAck { key_memory_bytes }) = Message::decode(&reply) else {
        // Refused (parameters not allowed, keys incomplete, malformed): the protocol's
        // own Error message, and nothing is kept.
        service.metrics.reject("setup_refused");
        return message_response(reply, None);
    };
    insert(service, id.clone(), engine, reply.clone(), key_memory_bytes);
    service.metrics.bytes_out.inc_by(reply.len() as u64);
    message_response(reply, Some(&id))
}

async fn session_request(
    State(service): State<Shared>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let t = Instant::now();
    let r = session_request_inner(&service, &id, body).await;
    service
        .metrics
        .observe("session_request", r.status(), t.elapsed().as_secs_f64());
    tracing::info!(
        route = "session_request",
        status = r.status().as_u16(),
        ms = t.elapsed().as_millis() as u64
    );
    r
}

async fn session_request_inner(service: &Shared, id: &str, body: Body) -> Response {
    let engine = {
        let Ok(mut sessions) = service.sessions.lock() else {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "state lock");
        };
        match sessions.get_mut(id) {
            Some(e) => {
                e.last_used = Instant::now();
                e.engine.clone()
            }
            None => {
                service.metrics.reject("unknown_session");
                return refuse(
                    StatusCode::NOT_FOUND,
                    "session-expired",
                    "session expired or unknown: upload the keys again",
                );
            }
        }
    };
    let bytes = match read_body(service, body, service.limits.max_request_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let permit = match slot(service) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    // One request per session at a time, in order (interactive rounds depend on it).
    let guard = engine.lock_owned().await;
    let reply = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut engine = guard;
        engine.handle(&bytes)
    })
    .await;
    match reply {
        Ok(reply) => {
            service.metrics.bytes_out.inc_by(reply.len() as u64);
            message_response(reply, None)
        }
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "evaluation failed",
        ),
    }
}

async fn metrics(State(service): State<Shared>) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &service.metrics.registry).is_err() {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "metrics encoding",
        );
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Session id: the first 128 bits of SHA-256 over the setup message (parameters and keys),
/// in hex. The same keys give the same session.
pub fn session_id(setup: &[u8]) -> String {
    super::tls::hex(&Sha256::digest(setup)[..16])
}

fn touch(service: &Service, id: &str) -> Option<Vec<u8>> {
    let mut sessions = service.sessions.lock().ok()?;
    let e = sessions.get_mut(id)?;
    e.last_used = Instant::now();
    Some(e.ack.clone())
}

/// Adds a session, then evicts the least recently used others while the keys held plus the
/// shared prepared model exceed the budget, or the session count its limit.
fn insert(service: &Service, id: String, engine: Engine, ack: Vec<u8>, key_memory: u64) {
    let Ok(mut sessions) = service.sessions.lock() else {
        return;
    };
    sessions.insert(
        id.clone(),
        Entry {
            engine: Arc::new(tokio::sync::Mutex::new(engine)),
            ack,
            key_memory,
            last_used: Instant::now(),
        },
    );
    let model_memory = service.models.classifier.prepared_bytes();
    loop {
        let held = model_memory + sessions.values().map(|e| e.key_memory).sum::<u64>();
        if held <= service.limits.key_memory_budget && sessions.len() <= service.limits.max_sessions
        {
            break;
        }
        let oldest = sessions
            .iter()
            .filter(|(k, _)| **k != id)
            .min_by_key(|(_, e)| e.last_used)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                sessions.remove(&k);
                service.metrics.evictions.inc();
                tracing::info!(event = "evicted", reason = "lru");
            }
            None => break,
        }
    }
    service.metrics.sessions.set(sessions.len() as i64);
    service.metrics.model_memory.set(model_memory as i64);
    service
        .metrics
        .key_memory
        .set(sessions.values().map(|e| e.key_memory).sum::<u64>() as i64);
}

/// A running service.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// SHA-256 of the TLS certificate, when serving TLS.
    pub fingerprint: Option<[u8; 32]>,
    handle: axum_server::Handle<SocketAddr>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (at most `grace`), and waits.
    pub fn shutdown(mut self, grace: Duration) -> std::io::Result<()> {
        self.handle.graceful_shutdown(Some(grace));
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }

    /// Stops at once, dropping connections (what a crash looks like to clients).
    pub fn kill(mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Waits until the service ends (SIGTERM/Ctrl-C in `privact serve`).
    pub fn wait(mut self) -> std::io::Result<()> {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }
}

/// Binds `listen` and serves on a background tokio runtime. With `tls`, HTTPS (HTTP/2 and
/// HTTP/1.1); without, plain HTTP (the caller allows that for loopback demos only). With
/// `on_signal`, SIGTERM and Ctrl-C start a graceful shutdown.
pub fn spawn(
    listen: SocketAddr,
    tls: Option<super::tls::Identity>,
    models: Models,
    limits: Limits,
    on_signal: bool,
) -> std::io::Result<Running> {
    let fingerprint = tls.as_ref().map(|t| t.fingerprint());
    let tls_config = match tls {
        Some(identity) => Some(
            identity
                .server_config()
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        ),
        None => None,
    };
    let service = Arc::new(Service {
        models: Arc::new(models),
        busy: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent.max(1))),
        limits,
        sessions: Mutex::new(HashMap::new()),
        metrics: Metrics::new(),
    });
    let app = router(service);
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let server_handle = handle.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("privact-serve")
        .build()?;
    let thread = std::thread::Builder::new()
        .name("privact-serve".into())
        .spawn(move || {
            runtime.block_on(async move {
                if on_signal {
                    let h = server_handle.clone();
                    tokio::spawn(async move {
                        shutdown_signal().await;
                        tracing::info!(event = "shutdown", "finishing in-flight requests");
                        h.graceful_shutdown(Some(Duration::from_secs(120)));
                    });
                }
                let service = app.into_make_service();
                match tls_config {
                    Some(config) => {
                        let config =
                            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
                        axum_server::from_tcp_rustls(listener, config)?
                            .handle(server_handle)
                            .serve(service)
                            .await
                    }
                    None => {
                        axum_server::from_tcp(listener)?
                            .handle(server_handle)
                            .serve(service)
                            .await
                    }
                }
            })
        })?;
    Ok(Running {
        addr,
        fingerprint,
        handle,
        thread: Some(thread),
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
