//! The connection: server, credentials and TLS options shared by every
//! `recon nats` command, and a small tokio runtime that does the I/O while
//! the component runs on the host's own thread.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;

use super::NatsError;

/// Default server URL (the machine's own server).
pub const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// How long one request (a JetStream API call, a publish's ack) may take
/// before it fails.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the first connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to connect: every `recon nats` command takes these.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// NATS server URL (several separated by commas).
    pub server: String,
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (with `user`).
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
    /// NATS credentials file (JWT and NKey seed).
    pub creds: Option<PathBuf>,
    /// CA certificate (PEM) to trust for the server's TLS certificate;
    /// implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// Client key (PEM), with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Require TLS even without `tls_ca` (the system's roots are trusted).
    pub tls: bool,
}

/// A connection and the runtime that drives it.
pub struct Nats {
    rt: tokio::runtime::Runtime,
    /// The client.
    pub client: async_nats::Client,
    /// JetStream on it.
    pub js: jetstream::Context,
    /// The last error the server sent (a permission violation arrives
    /// this way, apart from the request it spoils).
    server_error: Arc<Mutex<Option<String>>>,
}

impl Nats {
    /// Connects; a refused connection or bad credentials are an error at
    /// once (no retry), so a mistyped URL or password is reported clearly.
    pub fn connect(opts: &ConnectOptions, name: &str) -> Result<Nats, NatsError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let server_error = Arc::new(Mutex::new(None));
        let seen = server_error.clone();
        let connect_err = |message: String| NatsError::Connect {
            server: opts.server.clone(),
            message,
        };
        let mut o = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(CONNECT_TIMEOUT)
            .request_timeout(Some(REQUEST_TIMEOUT))
            // A busy worker reconnects for as long as it runs.
            .max_reconnects(None)
            .event_callback(move |event| {
                let seen = seen.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    }
                }
            });
        if let (Some(user), Some(password)) = (&opts.user, &opts.password) {
            o = o.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &opts.token {
            o = o.token(token.clone());
        }
        if let Some(creds) = &opts.creds {
            let text = std::fs::read_to_string(creds)
                .map_err(|e| connect_err(format!("reading {}: {e}", creds.display())))?;
            o = o
                .credentials(&text)
                .map_err(|e| connect_err(format!("{}: {e}", creds.display())))?;
        }
        if let Some(ca) = &opts.tls_ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&opts.tls_cert, &opts.tls_key) {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if opts.tls {
            o = o.require_tls(true);
        }
        let servers: Vec<String> = opts
            .server
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect();
        let client = rt.block_on(async {
            let addrs = servers
                .iter()
                .map(|s| s.parse::<async_nats::ServerAddr>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| connect_err(format!("bad server URL: {e}")))?;
            o.connect(addrs)
                .await
                .map_err(|e| connect_err(e.to_string()))
        })?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        Ok(Nats {
            rt,
            client,
            js,
            server_error,
        })
    }

    /// Runs `f` to completion on the runtime, from the calling thread.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The server's largest payload, in bytes.
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// Turns a client error into a [`NatsError`], naming a permission
    /// violation the server reported meanwhile (a refused publish shows
    /// up to the client as a timeout).
    pub fn err(&self, what: impl Into<String>, e: impl std::fmt::Display) -> NatsError {
        let what = what.into();
        let seen = self
            .server_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match seen {
            Some(s) if s.to_ascii_lowercase().contains("permission") => {
                NatsError::Permission(format!("{what}: {s}"))
            }
            _ => NatsError::op(what, e),
        }
    }
}
