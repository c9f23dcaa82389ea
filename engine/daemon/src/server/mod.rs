//! The Engine API server: accepts connections on every listener, strips and checks the
//! `/vX.Y` prefix, routes to the handlers, and adds the headers Docker clients expect.

mod archive;
mod attach;
mod containers;
mod disk_usage;
mod exec;
mod host_facts;
pub mod http;
mod image_filters;
mod images;
mod networks;
mod pipe;
mod prune;
mod stats;
mod system;
mod volumes;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use berth_api::version::{split_version_prefix, ApiVersion};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::daemon::Daemon;
use crate::listen::Listener;
use http::{ApiError, ApiResponse, ApiResult, Query};
pub use system::ENGINE_VERSION;
use tokio_rustls::TlsAcceptor;

/// Serves every listener until `shutdown` turns true.
pub async fn serve(listeners: Vec<Listener>, daemon: Arc<Daemon>, shutdown: watch::Receiver<bool>) {
    let mut tasks = Vec::new();
    for listener in listeners {
        let daemon = Arc::clone(&daemon);
        let mut shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    accepted = accept(&listener) => match accepted {
                        Ok(Connection::Unix(stream)) => {
                            tokio::spawn(serve_connection(stream, Arc::clone(&daemon)));
                        }
                        Ok(Connection::Tcp(stream)) => {
                            tokio::spawn(serve_connection(stream, Arc::clone(&daemon)));
                        }
                        Ok(Connection::Tls(stream, acceptor)) => {
                            tokio::spawn(serve_tls(stream, acceptor, Arc::clone(&daemon)));
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    },
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

enum Connection {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
    /// Accepted, the TLS handshake still to do.
    Tls(tokio::net::TcpStream, TlsAcceptor),
}

async fn accept(listener: &Listener) -> std::io::Result<Connection> {
    match listener {
        Listener::Unix(listener, _) => Ok(Connection::Unix(listener.accept().await?.0)),
        Listener::Tcp(listener, None) => Ok(Connection::Tcp(listener.accept().await?.0)),
        Listener::Tcp(listener, Some(acceptor)) => Ok(Connection::Tls(
            listener.accept().await?.0,
            acceptor.clone(),
        )),
    }
}

/// A client that has not finished the TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn serve_tls(stream: tokio::net::TcpStream, acceptor: TlsAcceptor, daemon: Arc<Daemon>) {
    let peer = stream.peer_addr().ok();
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_connection(stream, daemon).await,
        Ok(Err(err)) => tracing::info!(?peer, error = %err, "TLS handshake failed"),
        Err(_) => tracing::info!(?peer, "TLS handshake timed out"),
    }
}

async fn serve_connection<S>(stream: S, daemon: Arc<Daemon>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(Arc::clone(&daemon), request));
    if let Err(err) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await
    {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

async fn handle(
    daemon: Arc<Daemon>,
    request: Request<Incoming>,
) -> Result<ApiResponse, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    tracing::debug!(%method, path, "API request");
    let mut response = match route(daemon, request).await {
        Ok(response) => response,
        Err(err) => {
            if err.status.is_server_error() {
                tracing::error!(%method, path, status = %err.status, "{}", err.message);
            } else {
                tracing::debug!(%method, path, status = %err.status, "{}", err.message);
            }
            err.into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static(berth_api::API_VERSION),
    );
    headers.insert(
        HeaderName::from_static("docker-experimental"),
        HeaderValue::from_static("false"),
    );
    headers.insert(
        HeaderName::from_static("ostype"),
        HeaderValue::from_static("linux"),
    );
    headers.insert(
        SERVER,
        HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    Ok(response)
}

/// Checks the version prefix, if any, against 1.24..=1.44.
fn check_version(version: Option<&str>) -> Result<(), ApiError> {
    let Some(text) = version else {
        return Ok(());
    };
    let version: ApiVersion = text
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid API version \"{text}\"")))?;
    if version > ApiVersion::current() {
        return Err(ApiError::bad_request(format!(
            "client version {version} is too new. Maximum supported API version is {}",
            berth_api::API_VERSION
        )));
    }
    if version < ApiVersion::minimum() {
        return Err(ApiError::bad_request(format!(
            "client version {version} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            berth_api::MIN_API_VERSION
        )));
    }
    Ok(())
}

async fn route(daemon: Arc<Daemon>, request: Request<Incoming>) -> ApiResult {
    let full_path = http::percent_decode(request.uri().path());
    let (version, path) = split_version_prefix(&full_path);
    check_version(version)?;
    let path = path.to_owned();
    let method = request.method().clone();
    let query = Query::parse(request.uri().query());
    match (&method, path.as_str()) {
        (&Method::GET | &Method::HEAD, "/_ping") => return system::ping(&method),
        (&Method::GET, "/version") => return system::version(),
        (&Method::GET, "/system/df") => return disk_usage::disk_usage(&daemon, &query),
        (&Method::GET, "/info") => {
            let records: Vec<_> = daemon.containers.all().iter().map(|e| e.record()).collect();
            let running = records.iter().filter(|r| r.state.running()).count() as u64;
            let paused = records.iter().filter(|r| r.state.paused).count() as u64;
            let counts = system::Counts {
                containers: records.len() as u64,
                running: running - paused,
                paused,
                stopped: records.len() as u64 - running,
                images: daemon
                    .images
                    .store
                    .image_ids()
                    .map(|ids| ids.len() as u64)
                    .unwrap_or(0),
            };
            return system::info(&daemon, counts);
        }
        (&Method::POST, "/images/create") => return images::pull(daemon, query).await,
        (&Method::GET, "/images/json") => {
            let mut in_use = BTreeMap::new();
            for entry in daemon.containers.all() {
                *in_use.entry(entry.record().image_id).or_insert(0) += 1;
            }
            return images::list(&daemon, &in_use, &query);
        }
        (&Method::POST, "/containers/create") => return containers::create(daemon, request).await,
        (&Method::GET, "/containers/json") => return containers::list(&daemon, &query),
        (&Method::POST, "/containers/prune") => return prune::containers(daemon, &query).await,
        (&Method::POST, "/images/prune") => return prune::images(daemon, &query).await,
        (&Method::GET, "/images/get") => return images::save(daemon, query.all("names")).await,
        (&Method::POST, "/images/load") => return images::load(daemon, request).await,
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/images/") {
        return route_image(daemon, &method, rest, query).await;
    }
    if let Some(rest) = path.strip_prefix("/containers/") {
        return route_container(daemon, &method, rest, query, request).await;
    }
    match (&method, path.as_str()) {
        (&Method::GET, "/networks") => return networks::list(&daemon),
        (&Method::POST, "/networks/prune") => return networks::prune(),
        (&Method::POST, "/build/prune") => return prune::build_cache(),
        (&Method::POST, "/networks/create") => return networks::create(),
        (&Method::GET, "/volumes") => return volumes::list(&daemon, &query),
        (&Method::POST, "/volumes/create") => return volumes::create(daemon, request).await,
        (&Method::POST, "/volumes/prune") => return volumes::prune(&daemon, &query),
        _ => {}
    }
    if let Some(name) = path
        .strip_prefix("/networks/")
        .filter(|name| !name.contains('/'))
    {
        if method == Method::GET {
            return networks::inspect(&daemon, name);
        }
    }
    if let Some(name) = path
        .strip_prefix("/volumes/")
        .filter(|name| !name.contains('/'))
    {
        return match method {
            Method::GET => volumes::inspect(&daemon, name),
            Method::DELETE => volumes::remove(&daemon, name, &query),
            _ => Err(not_found(&method, &path)),
        };
    }
    if let Some(rest) = path.strip_prefix("/exec/") {
        let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
        return match (&method, action) {
            (&Method::POST, "start") => exec::start(daemon, id, request).await,
            (&Method::POST, "resize") => exec::resize(&daemon, id, &query),
            (&Method::GET, "json") => exec::inspect(&daemon, id),
            _ => Err(not_found(&method, &path)),
        };
    }
    Err(not_found(&method, &path))
}

fn not_found(method: &Method, path: &str) -> ApiError {
    ApiError::not_found(format!("page not found: {method} {path}"))
}

/// `/images/{name}/...`, where the name itself may contain slashes.
async fn route_image(daemon: Arc<Daemon>, method: &Method, rest: &str, query: Query) -> ApiResult {
    let named = |suffix: &str| rest.strip_suffix(suffix).filter(|name| !name.is_empty());
    match *method {
        Method::GET => {
            if let Some(name) = named("/json") {
                return images::inspect(&daemon, name);
            }
            if let Some(name) = named("/get") {
                return images::save(daemon, vec![name.to_owned()]).await;
            }
        }
        Method::POST => {
            if let Some(name) = named("/push") {
                return images::push(daemon, name, query).await;
            }
            if let Some(name) = named("/tag") {
                return images::tag(&daemon, name, query);
            }
        }
        Method::DELETE if !rest.is_empty() => {
            let users = match daemon.images.store.resolve(rest) {
                Ok(id) if !query.flag("force") => daemon.containers.users_of(&id.to_string()),
                _ => Vec::new(),
            };
            return images::remove(&daemon, rest, query.flag("force"), users).await;
        }
        _ => {}
    }
    Err(not_found(method, &format!("/images/{rest}")))
}

/// `/containers/{id}` and `/containers/{id}/{action}`.
async fn route_container(
    daemon: Arc<Daemon>,
    method: &Method,
    rest: &str,
    query: Query,
    request: Request<Incoming>,
) -> ApiResult {
    let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() {
        return Err(not_found(method, &format!("/containers/{rest}")));
    }
    match (method, action) {
        (&Method::GET, "json") => containers::inspect(&daemon, id),
        (&Method::GET, "changes") => containers::changes(&daemon, id),
        (&Method::GET, "export") => containers::export(daemon, id).await,
        (&Method::HEAD, "archive") => archive::stat(daemon, id, &query).await,
        (&Method::GET, "archive") => archive::get(daemon, id, &query).await,
        (&Method::PUT, "archive") => archive::put(daemon, id, &query, request).await,
        (&Method::POST, "start") => containers::start(daemon, id).await,
        (&Method::POST, "stop") => containers::stop(daemon, id, &query).await,
        (&Method::POST, "restart") => containers::restart(daemon, id, &query).await,
        (&Method::POST, "kill") => containers::kill(daemon, id, &query).await,
        (&Method::POST, "wait") => containers::wait(daemon, id, &query).await,
        (&Method::POST, "attach") => attach::attach(daemon, id, request).await,
        (&Method::POST, "resize") => containers::resize(&daemon, id, &query),
        (&Method::POST, "exec") => exec::create(daemon, id, request).await,
        (&Method::POST, "pause") => containers::set_paused(daemon, id, true).await,
        (&Method::POST, "rename") => containers::rename(&daemon, id, &query),
        (&Method::GET, "top") => containers::top(daemon, id, &query).await,
        (&Method::GET, "stats") => stats::stats(daemon, id, &query).await,
        (&Method::POST, "unpause") => containers::set_paused(daemon, id, false).await,
        (&Method::GET, "logs") => attach::logs(daemon, id, query).await,
        (&Method::DELETE, "") => containers::remove(daemon, id, &query).await,
        _ => Err(not_found(method, &format!("/containers/{rest}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_window_is_1_24_to_1_44() {
        assert!(check_version(None).is_ok());
        assert!(check_version(Some("1.44")).is_ok());
        assert!(check_version(Some("1.24")).is_ok());
        let err = check_version(Some("1.45")).unwrap_err();
        assert_eq!(
            err.message,
            "client version 1.45 is too new. Maximum supported API version is 1.44"
        );
        assert!(check_version(Some("1.23"))
            .unwrap_err()
            .message
            .contains("too old"));
        assert!(check_version(Some("1.x")).is_err());
    }
}
