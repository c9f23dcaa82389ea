//! HTTP plumbing for the API: the response body type (whole or streamed through a channel),
//! Docker-style JSON errors, and size-limited JSON request bodies.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

/// Every response body.
pub type Body = BoxBody<Bytes, Infallible>;
/// Every response.
pub type ApiResponse = Response<Body>;
/// What handlers return.
pub type ApiResult = Result<ApiResponse, ApiError>;

/// Largest JSON request body accepted (Docker's create bodies are a few KiB).
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// An error answered as `{"message": ...}` with a Docker status code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The JSON response for this error.
    pub fn into_response(self) -> ApiResponse {
        let body = berth_api::ErrorResponse {
            message: self.message,
        };
        json_response(self.status, &body)
    }
}

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A JSON response with Content-Type exactly `application/json`.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> ApiResponse {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|err| encode_failure_body(&err));
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Docker's error JSON for a response that could not be encoded, built by serde_json so that
/// quotes, backslashes and control characters in the error are escaped.
fn encode_failure_body(err: &serde_json::Error) -> Vec<u8> {
    serde_json::json!({ "message": format!("cannot encode response: {err}") })
        .to_string()
        .into_bytes()
}

/// 200 with a JSON body.
pub fn ok_json<T: Serialize>(value: &T) -> ApiResult {
    Ok(json_response(StatusCode::OK, value))
}

/// A status with no body (204, 304...).
pub fn no_content(status: StatusCode) -> ApiResult {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    Ok(response)
}

/// A body fed chunk by chunk through a channel; it ends when every sender is dropped.
pub struct ChannelBody {
    receiver: mpsc::Receiver<Bytes>,
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// A streamed response and the sender that feeds it.
pub fn streaming(
    status: StatusCode,
    content_type: &'static str,
) -> (ApiResponse, mpsc::Sender<Bytes>) {
    let (sender, receiver) = mpsc::channel(64);
    let mut response = Response::new(ChannelBody { receiver }.boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    (response, sender)
}

/// Reads a JSON body of at most [`JSON_BODY_LIMIT`] bytes: 413 when larger, 400 when it is
/// not valid JSON for `T`. An empty body reads as `T::default()`.
pub async fn read_json<T: DeserializeOwned + Default>(
    request: Request<Incoming>,
) -> Result<T, ApiError> {
    let bytes = Limited::new(request.into_body(), JSON_BODY_LIMIT)
        .collect()
        .await
        .map_err(|err| {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body is larger than {JSON_BODY_LIMIT} bytes"),
                )
            } else {
                ApiError::bad_request(format!("cannot read request body: {err}"))
            }
        })?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_request(format!("invalid JSON in request body: {err}")))
}

/// Query parameters, percent-decoded.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(key), percent_decode(value))
            })
            .collect();
        Query(pairs)
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter as dockerd reads it (httputils.BoolValue): absent, "", "0", "no",
    /// "false" and "none", in any case and around spaces, are false; any other value is true.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(is_true)
    }

    /// A boolean parameter that is `default` when absent (dockerd's BoolValueOrDefault).
    pub fn flag_or(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, is_true)
    }
}

fn is_true(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
}

/// Decodes `%XX` escapes and `+`.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        index += 3;
                    }
                    None => {
                        out.push(b'%');
                        index += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_reads_flags() {
        let query = Query::parse(Some(
            "fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest&all=1&x=%zz",
        ));
        assert_eq!(query.get("fromImage"), Some("docker.io/library/busybox"));
        assert!(query.flag("all"));
        assert!(!query.flag("force"));
        assert_eq!(query.get("x"), Some("%zz"));
    }

    #[test]
    fn capitalised_false_as_docker_py_sends_it_is_false() {
        let query = Query::parse(Some(
            "a=False&b=FALSE&c=0&d=no&e=none&f=&g=True&h=1&i=t&j=yes&k=%20false%20",
        ));
        for key in ["a", "b", "c", "d", "e", "f", "k", "absent"] {
            assert!(!query.flag(key), "{key}");
        }
        for key in ["g", "h", "i", "j"] {
            assert!(query.flag(key), "{key}");
        }
        assert!(query.flag_or("absent", true));
        assert!(!query.flag_or("a", true));
        assert!(query.flag_or("g", false));
    }

    /// A value whose serialization fails with quotes, a backslash and a newline in the error.
    struct Unencodable;

    impl Serialize for Unencodable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom(
                "bad \"field\" \\ here\nnext line",
            ))
        }
    }

    #[test]
    fn an_encode_failure_is_still_valid_json_with_the_error_escaped() {
        let response = json_response(StatusCode::OK, &Unencodable);
        let body = futures_body_bytes(response);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed["message"],
            "cannot encode response: bad \"field\" \\ here\nnext line"
        );
    }

    fn futures_body_bytes(response: ApiResponse) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async { response.into_body().collect().await.unwrap().to_bytes() })
    }
}
