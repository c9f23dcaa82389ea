//! A hostile Registry v2 server for tests (std only, one thread per connection, on
//! 127.0.0.1): it answers `/v2/`, manifests and blobs from a table of routes, and each route
//! can misbehave: trickle its headers or body, never end it, send more than it says, or
//! stall. It
//! counts the bytes it sent per route and notes when a client hung up on an endless body.
//! Shared with the daemon's tests (`#[path]`), so it depends on nothing but std.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes an endless body sends at most before it stalls, so a client that never stops
/// reading fills neither the disk nor memory of the test machine.
pub const ENDLESS_CAP: u64 = 256 << 20;

/// How a route sends its body.
#[derive(Clone)]
pub enum Body {
    /// These bytes with a matching Content-Length.
    Exact(Vec<u8>),
    /// These bytes, one every `every`, with a matching Content-Length.
    Trickle(Vec<u8>, Duration),
    /// These bytes, then filler without end (no Content-Length; capped at [`ENDLESS_CAP`],
    /// then the connection stalls until the client hangs up).
    Endless(Vec<u8>),
    /// These bytes (Content-Length says `declared`), then a stall until the client hangs up.
    Stall(Vec<u8>, u64),
    /// Filler at most `per_second` bytes a second, without end (no Content-Length).
    Slow(u64),
    /// A status line, then one more header line every `every`, without end.
    TrickledHeaders(Duration),
}

#[derive(Clone)]
struct Route {
    content_type: String,
    body: Body,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    sent: Mutex<HashMap<String, u64>>,
    hung_up: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// The running server; stops accepting (and stalled connections end) on drop.
pub struct Hostile {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Hostile {
    pub fn start() -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind hostile registry");
        let port = listener.local_addr().expect("local addr").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            while !accepting.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = accepting.clone();
                        std::thread::spawn(move || serve(stream, &shared));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Hostile { port, shared }
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Serves `body` at `path` (e.g. `/v2/lib/x/manifests/latest`).
    pub fn route(&self, path: &str, content_type: &str, body: Body) {
        self.shared.routes.lock().expect("routes").insert(
            path.to_string(),
            Route {
                content_type: content_type.to_string(),
                body,
            },
        );
    }

    /// Serves a blob of `repo` under its digest.
    pub fn blob(&self, repo: &str, digest: &str, body: Body) {
        self.route(
            &format!("/v2/{repo}/blobs/{digest}"),
            "application/octet-stream",
            body,
        );
    }

    /// Serves a manifest of `repo` under `reference` (a tag or digest).
    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, body: Body) {
        self.route(
            &format!("/v2/{repo}/manifests/{reference}"),
            media_type,
            body,
        );
    }

    /// Body bytes sent so far on `path`, over all requests.
    pub fn sent(&self, path: &str) -> u64 {
        self.shared
            .sent
            .lock()
            .expect("sent")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Body bytes sent so far on a blob of `repo`.
    pub fn blob_sent(&self, repo: &str, digest: &str) -> u64 {
        self.sent(&format!("/v2/{repo}/blobs/{digest}"))
    }

    /// True once a client hung up on `path` while its body was still being sent.
    pub fn hung_up(&self, path: &str) -> bool {
        self.shared
            .hung_up
            .lock()
            .expect("hung_up")
            .iter()
            .any(|p| p == path)
    }

    /// Waits until a client hung up on `path`; false when `timeout` passed first.
    pub fn wait_hang_up(&self, path: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.hung_up(path) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.hung_up(path)
    }

    /// Waits until at least `bytes` were sent on `path`; false when `timeout` passed first.
    pub fn wait_sent(&self, path: &str, bytes: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.sent(path) >= bytes {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads the request head; returns the method and path.
fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        if head.is_empty() && byte[0] == 0x16 {
            return None; // a TLS handshake: plain HTTP only, so the client falls back fast
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.split('?').next()?.to_string();
    Some((method, path))
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((method, path)) = read_request(&mut stream) else {
        return;
    };
    let route = if path == "/v2/" {
        Some(Route {
            content_type: "application/json".into(),
            body: Body::Exact(b"{}".to_vec()),
        })
    } else {
        shared.routes.lock().expect("routes").get(&path).cloned()
    };
    let Some(route) = route else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    if let Body::TrickledHeaders(every) = route.body {
        let mut sender = Sender {
            stream: &mut stream,
            shared,
            path: &path,
        };
        let _ = sender.write(b"HTTP/1.1 200 OK\r\n");
        while !shared.stop.load(Ordering::SeqCst) && sender.write(b"X-Slow: a\r\n") {
            std::thread::sleep(every);
        }
        return;
    }
    let length = match &route.body {
        Body::Exact(bytes) | Body::Trickle(bytes, _) => Some(bytes.len() as u64),
        Body::Stall(_, declared) => Some(*declared),
        Body::Endless(_) | Body::Slow(_) | Body::TrickledHeaders(_) => None,
    };
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nConnection: close\r\n",
        route.content_type
    );
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() || method == "HEAD" {
        return;
    }
    let sender = Sender {
        stream: &mut stream,
        shared,
        path: &path,
    };
    sender.send(&route.body);
}

struct Sender<'a> {
    stream: &'a mut TcpStream,
    shared: &'a Shared,
    path: &'a str,
}

impl Sender<'_> {
    /// Writes and counts; false when the client is gone (noted as a hang-up).
    fn write(&mut self, data: &[u8]) -> bool {
        if self.stream.write_all(data).is_err() {
            self.hung_up();
            return false;
        }
        *self
            .shared
            .sent
            .lock()
            .expect("sent")
            .entry(self.path.to_string())
            .or_default() += data.len() as u64;
        true
    }

    fn hung_up(&self) {
        self.shared
            .hung_up
            .lock()
            .expect("hung_up")
            .push(self.path.to_string());
    }

    /// Keeps the connection open, sending nothing, until the client hangs up or the server
    /// stops.
    fn stall(&mut self) {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 1024];
        while !self.shared.stop.load(Ordering::SeqCst) {
            match self.stream.read(&mut buf) {
                Ok(0) => return self.hung_up(),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return self.hung_up(),
            }
        }
    }

    fn send(mut self, body: &Body) {
        let filler = vec![0x5a_u8; 64 * 1024];
        match body {
            Body::Exact(bytes) => {
                self.write(bytes);
            }
            Body::Trickle(bytes, every) => {
                for byte in bytes {
                    if self.shared.stop.load(Ordering::SeqCst) || !self.write(&[*byte]) {
                        return;
                    }
                    std::thread::sleep(*every);
                }
            }
            Body::Endless(prefix) => {
                if !self.write(prefix) {
                    return;
                }
                let mut sent = prefix.len() as u64;
                while sent < ENDLESS_CAP {
                    if self.shared.stop.load(Ordering::SeqCst) || !self.write(&filler) {
                        return;
                    }
                    sent += filler.len() as u64;
                }
                self.stall();
            }
            Body::Stall(prefix, _) => {
                if self.write(prefix) {
                    self.stall();
                }
            }
            Body::Slow(per_second) => {
                let chunk = (*per_second / 10).max(1) as usize;
                while !self.shared.stop.load(Ordering::SeqCst) {
                    if !self.write(&filler[..chunk.min(filler.len())]) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Body::TrickledHeaders(_) => {}
        }
    }
}
