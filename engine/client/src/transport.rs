//! Talking to the daemon: picks the address (-H, then BERTH_HOST, then the default socket),
//! opens a connection per request over unix or tcp, and turns API errors into one line.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cli::DEFAULT_HOST;

/// Request bodies.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// The API version prefix berth speaks.
const PREFIX: &str = "/v1.44";

/// Where the daemon listens.
#[derive(Debug, Clone)]
enum Address {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// A daemon client.
#[derive(Clone)]
pub struct Client {
    address: Address,
    shown: String,
    /// TLS for tcp addresses (`--tls`, `--tlsverify`).
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The daemon could not be reached; printed as one line.
#[derive(Debug, thiserror::Error)]
#[error("Cannot connect to the berth daemon at {0}. Is berthd running?")]
pub struct CannotConnect(pub String);

/// The daemon answered with an error status.
#[derive(Debug, thiserror::Error)]
#[error("Error response from daemon: {message}")]
pub struct DaemonError {
    /// HTTP status.
    pub status: u16,
    /// The daemon's message.
    pub message: String,
}

impl Client {
    /// A client for `host` (from -H or BERTH_HOST), or the default socket.
    pub fn new(host: Option<String>) -> Result<Self> {
        let shown = host
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let address = if let Some(path) = shown.strip_prefix("unix://") {
            Address::Unix(PathBuf::from(path))
        } else if let Some(address) = shown.strip_prefix("tcp://") {
            Address::Tcp(
                berth_api::host::parse_tcp_address(address)
                    .with_context(|| format!("invalid host \"{shown}\""))?,
            )
        } else {
            bail!("invalid host \"{shown}\": expected unix://PATH or tcp://HOST:PORT");
        };
        Ok(Client {
            address,
            shown,
            tls: None,
        })
    }

    /// Speaks TLS to a tcp daemon with `options`; unix sockets ignore it, as docker does.
    pub fn with_tls(mut self, options: Option<crate::tls::TlsOptions>) -> Result<Self> {
        if let (Some(options), Address::Tcp(_)) = (options, &self.address) {
            self.tls = Some(options.connector()?);
        }
        Ok(self)
    }

    async fn connect(&self) -> Result<http1::SendRequest<Body>> {
        let cannot = |_| anyhow!(CannotConnect(self.shown.clone()));
        let sender = match &self.address {
            Address::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(cannot)?;
                handshake(stream).await?
            }
            Address::Tcp(address) => {
                let stream = tokio::net::TcpStream::connect(*address)
                    .await
                    .map_err(cannot)?;
                match &self.tls {
                    Some(connector) => {
                        let stream = connector
                            .connect(crate::tls::server_name(address), stream)
                            .await
                            .map_err(|err| {
                                anyhow!("error during connect to {}: {err}", self.shown)
                            })?;
                        handshake(stream).await?
                    }
                    None => handshake(stream).await?,
                }
            }
        };
        Ok(sender)
    }

    /// Sends a request and returns the raw response, whatever its status.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Body, &'static str)>,
        upgrade: bool,
    ) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{PREFIX}{path}"))
            .header(HOST, "berth")
            .header("User-Agent", concat!("berth/", env!("CARGO_PKG_VERSION")));
        if upgrade {
            builder = builder
                .header("Connection", "Upgrade")
                .header("Upgrade", "tcp");
        }
        let request = match body {
            Some((body, content_type)) => builder
                .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
                .body(body)?,
            None => builder.body(Empty::new().map_err(|never| match never {}).boxed_unsync())?,
        };
        sender
            .send_request(request)
            .await
            .map_err(|err| anyhow!("error during connect to {}: {err}", self.shown))
    }

    /// Sends a request and fails with the daemon's message unless the status is 2xx/1xx.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(Body, &'static str)>,
    ) -> Result<Response<Incoming>> {
        let response = self.send(method, path, body, false).await?;
        check(response).await
    }

    /// GET returning JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let response = self.call(Method::GET, path, None).await?;
        read_json(response).await
    }

    /// POST with a JSON body, returning JSON.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self
            .call(
                Method::POST,
                path,
                Some((json_body(body)?, "application/json")),
            )
            .await?;
        read_json(response).await
    }

    /// POST with no body, ignoring the answer's body.
    pub async fn post_empty(&self, path: &str) -> Result<()> {
        let response = self.call(Method::POST, path, None).await?;
        response.into_body().collect().await?;
        Ok(())
    }
}

async fn handshake<S>(stream: S) -> Result<http1::SendRequest<Body>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    Ok(sender)
}

/// A JSON request body.
pub fn json_body<B: Serialize>(body: &B) -> Result<Body> {
    Ok(Full::new(Bytes::from(serde_json::to_vec(body)?))
        .map_err(|never| match never {})
        .boxed_unsync())
}

/// Passes 1xx, 2xx and 3xx responses, as docker's client does (304: the container was already
/// started or stopped); turns others into [`DaemonError`].
pub async fn check(response: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = response.status();
    if status.is_success() || status.is_informational() || status.is_redirection() {
        return Ok(response);
    }
    let bytes = response.into_body().collect().await?.to_bytes();
    let message = serde_json::from_slice::<berth_api::ErrorResponse>(&bytes)
        .map(|error| error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_owned());
    Err(DaemonError {
        status: status.as_u16(),
        message,
    }
    .into())
}

/// Reads a whole JSON response body.
pub async fn read_json<T: DeserializeOwned>(response: Response<Incoming>) -> Result<T> {
    let bytes = response.into_body().collect().await?.to_bytes();
    serde_json::from_slice(&bytes).map_err(|err| anyhow!("cannot read the daemon's answer: {err}"))
}

/// Percent-encodes a query value or path segment.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_selection() {
        assert!(matches!(
            Client::new(None).unwrap().address,
            Address::Unix(_)
        ));
        assert!(matches!(
            Client::new(Some("tcp://127.0.0.1:1".into()))
                .unwrap()
                .address,
            Address::Tcp(_)
        ));
        assert!(Client::new(Some("ssh://x".into())).is_err());
        assert_eq!(encode("a/b:c d"), "a%2Fb%3Ac%20d");
    }
}
