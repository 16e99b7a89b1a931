//! `privact serve`: the encrypted-inference service over HTTPS (issue 17), and the shared
//! `--server` options of the client commands.

use crate::model::denoiser::ModelKind;
use crate::model::denoiser::he::MaskPolicy;
use crate::model::denoiser::weights::builtin;
use crate::protocol::classify::server::ClassifierModel;
use crate::protocol::transport::http_client::Endpoint;
use crate::protocol::transport::http_server::{self, Limits, Models};
use crate::protocol::transport::tls::{self, Identity, Trust};
use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (with --tls-cert).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Make a self-signed certificate now and print its SHA-256 fingerprint for clients
    /// (`--server-fingerprint`).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub self_signed: bool,
    /// Extra host names or addresses for the self-signed certificate.
    #[arg(long, value_name = "NAME")]
    pub tls_name: Vec<String>,
    /// Plain HTTP, for loopback demos only (refused on any other address).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "self_signed"])]
    pub insecure_http: bool,
    /// Sessions held at once (least recently used evicted first).
    #[arg(long, default_value_t = 64)]
    pub max_sessions: usize,
    /// Memory budget for what the sessions hold, MiB: their evaluation keys plus the
    /// classifier's prepared plaintexts (one copy per parameter set, shared by all sessions).
    #[arg(long, default_value_t = 4096)]
    pub key_memory_mib: u64,
    /// Evaluations at once; more requests get 503.
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: usize,
    /// Seconds a client has to send a request body.
    #[arg(long, default_value_t = 60)]
    pub read_timeout_s: u64,
}

/// The models `privact serve` evaluates: the shipped classifier and both shipped denoisers.
pub fn shipped_models() -> anyhow::Result<Models> {
    Ok(Models {
        classifier: Arc::new(ClassifierModel::new(
            crate::model::classifier::shipped()
                .context("loading the shipped classifier")?
                .he_members(),
        )),
        linear: builtin(ModelKind::Linear)?,
        nonlinear: builtin(ModelKind::Nonlinear)?,
        policy: MaskPolicy::DEFAULT,
    })
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let identity = match (
        &args.tls_cert,
        &args.tls_key,
        args.self_signed,
        args.insecure_http,
    ) {
        (Some(c), Some(k), false, false) => Some(Identity::from_pem_files(c, k)?),
        (None, None, true, false) => Some(Identity::self_signed(&args.tls_name)?),
        (None, None, false, true) => {
            if !args.listen.ip().is_loopback() {
                bail!(
                    "--insecure-http listens on loopback addresses only (got {}); use TLS for a network",
                    args.listen
                );
            }
            None
        }
        _ => bail!("choose one of --self-signed, --tls-cert/--tls-key or --insecure-http"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: redirected logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let limits = Limits {
        max_sessions: args.max_sessions.max(1),
        key_memory_budget: args.key_memory_mib.saturating_mul(1 << 20),
        max_concurrent: args.max_concurrent.max(1),
        read_timeout: Duration::from_secs(args.read_timeout_s.max(1)),
        ..Limits::default()
    };
    let running = http_server::spawn(args.listen, identity, shipped_models()?, limits, true)
        .with_context(|| format!("listening on {}", args.listen))?;
    let scheme = if running.fingerprint.is_some() {
        "https"
    } else {
        "http"
    };
    println!("privact serve: listening on {scheme}://{}", running.addr);
    if let Some(fp) = running.fingerprint {
        println!("TLS certificate SHA-256 fingerprint: {}", tls::hex(&fp));
        println!(
            "clients: --server {scheme}://{} --server-fingerprint {}",
            running.addr,
            tls::hex(&fp)
        );
    }
    running.wait()?;
    println!("privact serve: stopped");
    Ok(())
}

/// `--server URL [--server-fingerprint SHA256 | --ca-cert FILE]` for client commands.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServerArgs {
    /// Run the encrypted steps on `privact serve` at this URL (https://host:port) instead of
    /// the built-in in-process server.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Trust the server certificate with this SHA-256 fingerprint (hex, as `privact serve
    /// --self-signed` prints it).
    #[arg(
        long,
        value_name = "SHA256",
        requires = "server",
        conflicts_with = "ca_cert"
    )]
    pub server_fingerprint: Option<String>,
    /// Trust server certificates issued by the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM", requires = "server")]
    pub ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    /// Where a command's steps ran, for its output: `privact serve` at the URL, the built-in
    /// server of this process, or plaintext (no server at all).
    pub fn evaluated_by(&self, encrypted: bool) -> String {
        match (&self.server, encrypted) {
            (Some(url), true) => format!("privact serve at {url}"),
            (None, true) => "the built-in server in this process".into(),
            (_, false) => "plaintext in this process".into(),
        }
    }

    /// The remote endpoint, or `None` for the in-process server.
    pub fn endpoint(&self) -> anyhow::Result<Option<Endpoint>> {
        let Some(url) = &self.server else {
            return Ok(None);
        };
        let trust = match (&self.server_fingerprint, &self.ca_cert) {
            (Some(fp), _) => Some(Trust::Fingerprint(tls::parse_fingerprint(fp)?)),
            (None, Some(ca)) => Some(Trust::CaFile(ca.clone())),
            (None, None) => None,
        };
        Ok(Some(Endpoint::new(url, trust)?))
    }
}
