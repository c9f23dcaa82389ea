//! A small static file server on 127.0.0.1 that serves the yum repo to the e2e host (which
//! shares the machine's network). GET and HEAD of regular files only; paths never leave the
//! served root.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

pub struct StaticServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Serves `root` on 127.0.0.1:<free port> from a background thread until dropped.
    pub fn start(root: &Path) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("binding the repo server on 127.0.0.1")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let root = root.to_path_buf();
        let (stop_flag, log) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, log) = (root.clone(), log.clone());
                std::thread::spawn(move || {
                    if let Ok(line) = serve(stream, &root) {
                        if let Ok(mut log) = log.lock() {
                            log.push(line);
                        }
                    }
                });
            }
        });
        Ok(StaticServer {
            port,
            stop,
            requests,
            thread: Some(thread),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests served so far ("GET /path 200"), newest last.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request and returns a log line for it.
fn serve(stream: TcpStream, root: &Path) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let mut stream = stream;
    let (status, body) = match (method, resolve(root, target)) {
        ("GET" | "HEAD", Some(path)) if path.is_file() => match std::fs::read(&path) {
            Ok(body) => ("200 OK", body),
            Err(_) => ("403 Forbidden", Vec::new()),
        },
        ("GET" | "HEAD", _) => ("404 Not Found", Vec::new()),
        _ => ("405 Method Not Allowed", Vec::new()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method == "GET" {
        stream.write_all(&body)?;
    }
    stream.flush()?;
    Ok(format!("{method} {target} {}", &status[..3]))
}

/// Maps a request target to a file under `root`, refusing anything that would leave it.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    let mut resolved = root.to_path_buf();
    for component in Path::new(&decoded).components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => resolved.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(resolved)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn serves_files_and_refuses_to_leave_the_root() {
        let dir =
            super::super::scratch::ScratchDir::new(&std::env::temp_dir(), "e2e-http-test").unwrap();
        std::fs::create_dir_all(dir.path().join("repo/el")).unwrap();
        std::fs::write(dir.path().join("repo/el/a b.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("secret"), b"no").unwrap();
        let server = StaticServer::start(&dir.path().join("repo")).unwrap();
        let get = |path: &str| {
            let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        let ok = get("/el/a%20b.txt");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nhello"), "{ok}");
        assert!(get("/../secret").starts_with("HTTP/1.1 404"));
        assert!(get("/el/%2e%2e/%2e%2e/secret").starts_with("HTTP/1.1 404"));
        assert!(get("/el").starts_with("HTTP/1.1 404"));
        // The log line is written just after the connection closes.
        for _ in 0..100 {
            if server.requests().len() == 4 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(server.requests().len(), 4, "{:?}", server.requests());
    }
}
