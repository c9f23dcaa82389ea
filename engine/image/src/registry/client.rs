//! An authenticated session with one registry endpoint for one repository: the `/v2/` ping,
//! anonymous / Basic / Bearer-token auth from the WWW-Authenticate challenge, and requests
//! that follow redirects by hand so Authorization never goes to another host. Every
//! connection and read has a time limit, and small documents are read whole only up to a cap
//! and within a deadline.

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::registry::config::{Endpoint, Timeouts};

const MAX_REDIRECTS: usize = 10;
/// Token responses larger than this are refused.
const TOKEN_MAX: u64 = 1 << 20;
/// The most of an error response's body kept for the error message.
const ERROR_BODY_MAX: u64 = 4096;

/// A username and password (or token) for a registry, e.g. from X-Registry-Auth.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ****)", self.username)
    }
}

/// An authenticated session with one endpoint, scoped to one or more repositories.
#[derive(Clone)]
pub(crate) struct Session {
    http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) repo: String,
    authorization: Option<HeaderValue>,
    pub(crate) timeouts: Timeouts,
}

/// Makes ring the process's rustls crypto provider, once; reqwest's TLS setup and the platform
/// certificate verifier both use the process default. A provider installed earlier by the
/// embedding program is kept.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what is wanted.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn http_client(insecure: bool, timeouts: &Timeouts) -> Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(insecure)
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.idle)
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Registry {
            endpoint: "client".into(),
            reason: e.to_string(),
        })
}

/// Why reading a small document stopped short.
pub(crate) enum ReadError {
    /// The body went past the cap.
    TooLarge,
    /// The whole body did not arrive within the document deadline.
    TimedOut,
    /// The connection failed.
    Http(reqwest::Error),
}

impl ReadError {
    /// One line for an error message about `what` (capped at `limit` bytes).
    pub(crate) fn describe(&self, what: &str, limit: u64, timeouts: &Timeouts) -> String {
        match self {
            ReadError::TooLarge => format!("{what} is larger than {limit} bytes"),
            ReadError::TimedOut => format!(
                "{what} did not arrive within {} s",
                timeouts.document.as_secs_f64()
            ),
            ReadError::Http(e) => format!("{what}: {}", describe(e)),
        }
    }
}

/// Reads a whole response body of at most `limit` bytes within `deadline`, never holding
/// more than `limit` bytes however long the body (or its Content-Length) says it is.
pub(crate) async fn read_capped(
    response: Response,
    limit: u64,
    deadline: std::time::Duration,
) -> std::result::Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let read = async {
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(ReadError::Http)?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(ReadError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| ReadError::TimedOut)?
}

/// Up to [`ERROR_BODY_MAX`] bytes of an error response, for the message; the rest is dropped.
pub(crate) async fn error_text(response: Response, timeouts: &Timeouts) -> String {
    let read = async {
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            let room = ERROR_BODY_MAX as usize - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() as u64 >= ERROR_BODY_MAX {
                break;
            }
        }
        body
    };
    let body = tokio::time::timeout(timeouts.document, read)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&body).trim().to_string()
}

/// Describes a reqwest error with its underlying cause (connection refused, TLS, ...).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[derive(Debug, Default)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `Bearer realm="…",service="…",scope="…"` (quoted values may contain commas).
fn parse_challenge(header: &str) -> Challenge {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_string(), value));
    }
    Challenge {
        scheme: scheme.to_string(),
        params,
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Session {
    /// Pings `<base>v2/` and authenticates for `repository:<repo>:<actions>` plus any extra
    /// scopes (e.g. pull on a cross-mount source).
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        repo: &str,
        actions: &str,
        extra_scopes: &[String],
        credentials: Option<&crate::Credentials>,
    ) -> Result<Session> {
        endpoint.check_scheme()?;
        let http = http_client(endpoint.insecure, &endpoint.timeouts)?;
        let err = |reason: String| Error::Registry {
            endpoint: endpoint.base.to_string(),
            reason,
        };
        let ping_url = endpoint.base.join("v2/").map_err(|e| err(e.to_string()))?;
        let ping = http
            .get(ping_url.clone())
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        let mut session = Session {
            http,
            base: endpoint.base.clone(),
            repo: repo.to_string(),
            authorization: None,
            timeouts: endpoint.timeouts,
        };
        match ping.status() {
            s if s.is_success() => return Ok(session),
            StatusCode::UNAUTHORIZED => {}
            s => return Err(err(format!("GET {ping_url}: HTTP {s}"))),
        }
        let challenge = ping
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .map(parse_challenge)
            .unwrap_or_default();
        let auth_err = |reason: String| Error::Auth {
            endpoint: endpoint.base.to_string(),
            reason,
        };
        let value = if challenge.scheme.eq_ignore_ascii_case("bearer") {
            let realm = challenge
                .param("realm")
                .ok_or_else(|| auth_err("Bearer challenge without realm".into()))?;
            let mut token_url =
                Url::parse(realm).map_err(|e| auth_err(format!("realm {realm:?}: {e}")))?;
            {
                let mut q = token_url.query_pairs_mut();
                if let Some(service) = challenge.param("service") {
                    q.append_pair("service", service);
                }
                q.append_pair("scope", &format!("repository:{repo}:{actions}"));
                for scope in extra_scopes {
                    q.append_pair("scope", scope);
                }
            }
            let mut request = session.http.get(token_url.clone());
            if let Some(c) = credentials {
                request = request.basic_auth(&c.username, Some(&c.password));
            }
            let response = request
                .send()
                .await
                .map_err(|e| auth_err(format!("token endpoint {realm}: {}", describe(&e))))?;
            if !response.status().is_success() {
                return Err(auth_err(format!(
                    "token endpoint {realm}: HTTP {}",
                    response.status()
                )));
            }
            #[derive(Deserialize)]
            struct TokenResponse {
                token: Option<String>,
                access_token: Option<String>,
            }
            let body = read_capped(response, TOKEN_MAX, endpoint.timeouts.document)
                .await
                .map_err(|e| {
                    auth_err(e.describe(
                        &format!("token endpoint {realm}"),
                        TOKEN_MAX,
                        &endpoint.timeouts,
                    ))
                })?;
            let body: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| auth_err(format!("token endpoint {realm}: {e}")))?;
            let token = body
                .token
                .or(body.access_token)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| auth_err(format!("token endpoint {realm} returned no token")))?;
            format!("Bearer {token}")
        } else if challenge.scheme.eq_ignore_ascii_case("basic") {
            let c = credentials
                .ok_or_else(|| auth_err("registry requires credentials (Basic)".into()))?;
            let probe = session
                .http
                .get(ping_url.clone())
                .basic_auth(&c.username, Some(&c.password))
                .build()
                .map_err(|e| auth_err(describe(&e)))?;
            let header = probe
                .headers()
                .get(AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| auth_err("cannot encode Basic credentials".into()))?;
            let check = session
                .http
                .execute(probe)
                .await
                .map_err(|e| auth_err(describe(&e)))?;
            if check.status() == StatusCode::UNAUTHORIZED {
                return Err(auth_err("username or password rejected".into()));
            }
            header
        } else {
            return Err(auth_err(format!(
                "unsupported auth scheme {:?}",
                challenge.scheme
            )));
        };
        session.authorization = Some(
            HeaderValue::from_str(&value)
                .map_err(|_| auth_err("token is not a valid header".into()))?,
        );
        Ok(session)
    }

    /// `<base>v2/<repo>/<suffix>`.
    pub(crate) fn url(&self, suffix: &str) -> Result<Url> {
        self.base
            .join(&format!("v2/{}/{suffix}", self.repo))
            .map_err(|e| self.error(e.to_string()))
    }

    pub(crate) fn error(&self, reason: String) -> Error {
        Error::Registry {
            endpoint: self.base.to_string(),
            reason,
        }
    }

    /// Sends a request, following redirects; Authorization only goes to the endpoint's origin.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<reqwest::Body>,
    ) -> Result<Response> {
        let mut url = url;
        let mut body = body;
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(auth) = &self.authorization {
                if same_origin(&url, &self.base) {
                    request = request.header(AUTHORIZATION, auth.clone());
                }
            }
            if let Some(b) = body.take() {
                request = request.body(b);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.error(format!("{method} {url}: {}", describe(&e))))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| self.error(format!("{method} {url}: redirect without Location")))?;
            url = url
                .join(location)
                .map_err(|e| self.error(format!("bad redirect {location:?}: {e}")))?;
        }
        Err(self.error(format!("{method}: more than {MAX_REDIRECTS} redirects")))
    }

    /// GET with an Accept header (and optional Range), failing on non-2xx.
    pub(crate) async fn get(
        &self,
        url: Url,
        accept: &str,
        range_from: Option<u64>,
    ) -> Result<Response> {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(accept) {
            headers.insert(reqwest::header::ACCEPT, v);
        }
        if let Some(from) = range_from {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes={from}-")) {
                headers.insert(reqwest::header::RANGE, v);
            }
        }
        let response = self.send(Method::GET, url.clone(), headers, None).await?;
        if !response.status().is_success() {
            let status = response.status();
            let text = error_text(response, &self.timeouts).await;
            return Err(self.error(format!("GET {url}: HTTP {status} {text}")));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parsing() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        let b = parse_challenge(r#"Basic realm=registry"#);
        assert_eq!(b.scheme, "Basic");
        assert_eq!(b.param("realm"), Some("registry"));
    }

    #[test]
    fn origin_comparison() {
        let a = Url::parse("http://127.0.0.1:5000/v2/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("http://127.0.0.1:5000/other").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://127.0.0.1:5001/v2/x").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://127.0.0.1:5000/v2/x").unwrap()
        ));
    }
}
