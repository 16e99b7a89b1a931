//! The client side of `privact serve`: a forwarding thread that posts each protocol message
//! of a session to the server over HTTPS and hands the reply back through a
//! [`ChannelTransport`], so the classification and denoising sessions run unchanged.
//!
//! - The `Setup` message goes to `POST /v1/sessions`; the reply names the session (the keys'
//!   hash) in the `x-privact-session` header. Every later message goes to
//!   `POST /v1/sessions/{id}`.
//! - A session the server evicted (404 with `x-privact-error: session-expired`) is
//!   re-established once, transparently: the keys are uploaded again and the request is
//!   repeated. An interactive round cannot be repeated (the server's masks are gone): the
//!   server refuses it and the client reports why.
//! - Network and HTTP failures end the channel with a [`ProtocolError::Network`] naming them.

use super::Transport;
use super::channel::{ChannelTransport, FailureSlot, channel_pair};
use super::tls::{Trust, client_config};
use crate::protocol::ProtocolError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Header with the session id on `POST /v1/sessions` replies.
pub const SESSION_HEADER: &str = "x-privact-session";
/// Header naming why an HTTP request was refused (`session-expired`, `busy`, …).
pub const ERROR_HEADER: &str = "x-privact-error";
/// Content type of protocol messages.
pub const CONTENT_TYPE: &str = "application/x-privact";

/// Where a remote server is and how to trust it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `https://host:port` (or `http://` on a loopback address, for demos).
    pub base: String,
    /// `None` for plain HTTP.
    pub trust: Option<Trust>,
}

impl Endpoint {
    /// Checks the URL: `https://` needs a trust (fingerprint or CA file); `http://` is
    /// accepted for loopback hosts only, where nothing crosses a network.
    pub fn new(url: &str, trust: Option<Trust>) -> Result<Self, ProtocolError> {
        let base = url.trim_end_matches('/').to_string();
        let bad = |m: &str| ProtocolError::Network(format!("server URL {url}: {m}"));
        let parsed = reqwest::Url::parse(&base).map_err(|e| {
            if base.contains("://") {
                bad(&e.to_string())
            } else {
                bad("give the scheme and the port, e.g. https://host:8443")
            }
        })?;
        let host = parsed.host_str().unwrap_or("");
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback());
        match parsed.scheme() {
            "https" if trust.is_some() => Ok(Self { base, trust }),
            "https" => Err(bad(
                "give --server-fingerprint (printed by `privact serve --self-signed`) or --ca-cert",
            )),
            "http" if loopback => Ok(Self { base, trust: None }),
            "http" => Err(bad(
                "plain HTTP is only for loopback demos; use https:// with a fingerprint or CA",
            )),
            other => Err(bad(&format!("unsupported scheme {other}"))),
        }
    }
}

/// An HTTP client for `endpoint`: its trust (pinned fingerprint or CA), connect timeout
/// and the whole-request `timeout`.
fn http_client(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, ProtocolError> {
    super::tls::install_default_provider();
    let mut builder = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .user_agent(concat!("privact/", env!("CARGO_PKG_VERSION")));
    if let Some(trust) = &endpoint.trust {
        let config = client_config(trust).map_err(|e| ProtocolError::Network(e.to_string()))?;
        builder = builder.use_preconfigured_tls(config);
    }
    builder
        .build()
        .map_err(|e| ProtocolError::Network(format!("HTTP client: {e}")))
}

/// `GET /healthz` at `endpoint` with its trust: the round-trip time, or why the server cannot
/// be reached (refused, wrong fingerprint, not a PrivaCT server …). Sends nothing else.
pub fn health(endpoint: &Endpoint) -> Result<Duration, ProtocolError> {
    let http = http_client(endpoint, Duration::from_secs(15))?;
    let t = std::time::Instant::now();
    let url = format!("{}/healthz", endpoint.base);
    let response = http
        .get(&url)
        .send()
        .map_err(|e| ProtocolError::Network(explain(&endpoint.base, &e)))?;
    let status = response.status();
    let body = response.text().unwrap_or_default();
    if status.is_success() && body.trim() == "ok" {
        Ok(t.elapsed())
    } else {
        Err(ProtocolError::Network(format!(
            "{} answered HTTP {status} on /healthz: not a privact server?",
            endpoint.base
        )))
    }
}

/// Opens a client end whose messages are forwarded to `endpoint` by a background thread
/// (which ends when the returned transport is dropped).
pub fn connect(endpoint: &Endpoint) -> Result<ChannelTransport, ProtocolError> {
    // Interactive denoising of a large slice can keep one request busy for minutes.
    let http = http_client(endpoint, Duration::from_secs(900))?;
    let (client_end, mut far_end) = channel_pair();
    let failure: FailureSlot = Arc::new(Mutex::new(None));
    let slot = failure.clone();
    let base = endpoint.base.clone();
    std::thread::Builder::new()
        .name("privact-http-client".into())
        .spawn(move || {
            let mut link = Link {
                http,
                base,
                session: None,
                setup: None,
            };
            while let Ok(request) = far_end.recv() {
                match link.forward(&request) {
                    Ok(reply) => {
                        if far_end.send(reply).is_err() {
                            break;
                        }
                    }
                    Err(reason) => {
                        if let Ok(mut s) = slot.lock() {
                            *s = Some(reason);
                        }
                        break;
                    }
                }
            }
        })
        .map_err(|_| ProtocolError::Network("could not start the HTTP client thread".into()))?;
    Ok(client_end.with_failure_slot(failure))
}

/// The forwarding thread's state: the session id and the keys to re-upload on eviction.
struct Link {
    http: reqwest::blocking::Client,
    base: String,
    session: Option<String>,
    setup: Option<Vec<u8>>,
}

/// What one POST returned.
enum Posted {
    Reply(Vec<u8>, Option<String>),
    Expired,
}

impl Link {
    fn forward(&mut self, request: &[u8]) -> Result<Vec<u8>, String> {
        let is_setup = request.get(5) == Some(&1);
        if is_setup {
            self.setup = Some(request.to_vec());
            return self.open();
        }
        let id = self
            .session
            .clone()
            .ok_or("no session: the keys were not uploaded")?;
        match self.post(&format!("/v1/sessions/{id}"), request)? {
            Posted::Reply(bytes, _) => Ok(bytes),
            Posted::Expired => {
                // Evicted (memory budget or restart): upload the keys again, then retry once.
                self.open()?;
                let id = self.session.clone().ok_or("no session after re-upload")?;
                match self.post(&format!("/v1/sessions/{id}"), request)? {
                    Posted::Reply(bytes, _) => Ok(bytes),
                    Posted::Expired => Err("the server expired the session again at once".into()),
                }
            }
        }
    }

    /// Uploads the cached setup message; keeps the session id the server returns.
    fn open(&mut self) -> Result<Vec<u8>, String> {
        let setup = self.setup.clone().ok_or("no keys to upload")?;
        match self.post("/v1/sessions", &setup)? {
            Posted::Reply(bytes, id) => {
                if id.is_some() {
                    self.session = id;
                }
                Ok(bytes)
            }
            Posted::Expired => Err("the server refused the session".into()),
        }
    }

    fn post(&self, path: &str, body: &[u8]) -> Result<Posted, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.to_vec())
            .send()
            .map_err(|e| explain(&self.base, &e))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let session = header(SESSION_HEADER);
        let refusal = header(ERROR_HEADER);
        let is_message =
            header(reqwest::header::CONTENT_TYPE.as_str()).as_deref() == Some(CONTENT_TYPE);
        if status == reqwest::StatusCode::NOT_FOUND && refusal.as_deref() == Some("session-expired")
        {
            return Ok(Posted::Expired);
        }
        let bytes = response
            .bytes()
            .map_err(|e| format!("reading the reply: {}", error_chain(&e)))?;
        // Protocol answers (including the server's `Error` messages) go back to the session,
        // which decodes them; anything else is an HTTP-level refusal.
        if is_message {
            return Ok(Posted::Reply(bytes.to_vec(), session));
        }
        let text = String::from_utf8_lossy(&bytes);
        Err(format!(
            "HTTP {status} from {}: {}",
            self.base,
            text.chars().take(200).collect::<String>().trim()
        ))
    }
}

/// One line saying what went wrong with a request to `base`, in the user's terms where the
/// cause is a common one; otherwise the error and its causes.
fn explain(base: &str, e: &reqwest::Error) -> String {
    let chain = error_chain(e);
    let reason = if chain.contains(super::tls::PIN_MISMATCH) {
        "the server's certificate does not match the fingerprint given; ask the server's \
         operator for the one `privact serve` printed at start"
            .to_string()
    } else if chain.contains("Connection refused") {
        "connection refused: is `privact serve` running at this address and port?".into()
    } else if chain.contains("invalid HTTP version")
        || chain.contains("InvalidContentType")
        || (base.starts_with("http://")
            && (chain.contains("reset by peer") || chain.contains("connection closed")))
    {
        "the server and the URL disagree on TLS: use https:// for `privact serve`, http:// \
         only with --insecure-http"
            .into()
    } else if e.is_timeout() {
        "no answer in time".into()
    } else {
        chain
    };
    format!("{base}: {reason}")
}

/// The error and its causes on one line ("connection refused" is usually in a cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
