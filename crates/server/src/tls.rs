//! TLS inside the service (feature `tls`): a certificate chain and its private key in PEM
//! files, served with rustls (TLS 1.2 and 1.3, HTTP/1.1).
//!
//! [`TlsListener`] accepts TCP connections and runs each handshake in its own task, with a
//! time limit, so a client that stalls its handshake holds up no one else.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
/// The server's TLS configuration, as [`load`] builds it.
pub use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; beyond it, new connections wait to be accepted.
const MAX_HANDSHAKES: usize = 1024;

/// The certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's own certificate first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file does not read as PEM of the right kind.
    #[error("--tls-{what} `{path}`: {message}")]
    File {
        /// `cert` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// rustls refuses the pair (for example a key that does not match the certificate).
    #[error("--tls-cert `{cert}` with --tls-key `{key}`: {message}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        message: String,
    },
}

fn file_error(what: &'static str, path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Reads the certificate chain and key and builds the server's TLS configuration.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|e| file_error(what, path, format!("cannot read it: {e}")))
    };
    let cert_pem = read("cert", &files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error("cert", &files.cert, format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(file_error(
            "cert",
            &files.cert,
            "holds no certificate (a `-----BEGIN CERTIFICATE-----` block)",
        ));
    }
    let key_pem = read("key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        file_error(
            "key",
            &files.key,
            format!("holds no private key in PEM (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            message: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener that hands out TLS streams once their handshakes are done.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    /// Serves TLS with this configuration on a bound listener.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }

    /// Starts the handshake of a new connection in its own task.
    fn start(&mut self, stream: TcpStream, peer: SocketAddr) {
        // Answers are never held back for an acknowledgement (as on the plain listener).
        let _ = stream.set_nodelay(true);
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => Some((tls, peer)),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "a TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "a TLS handshake timed out");
                    None
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_HANDSHAKES;
            tokio::select! {
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((stream, peer)) => self.start(stream, peer),
                    // Out of file descriptors and the like: wait a moment, as axum does.
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(ready)) = done {
                        return ready;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for crate::Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> crate::Peer {
        crate::Peer(*stream.remote_addr())
    }
}
