//! nginx serving a directory on 127.0.0.1 as a production host would (static files, no
//! autoindex, dotfiles denied, repomd.xml not cached), as a foreground process with its own
//! config, pid file, temp paths and error log in a temp dir. Killed on drop.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Nginx {
    child: Child,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx with `root` as its document root; its files go under `work`.
    pub fn serve(root: &Path, work: &Path) -> Nginx {
        // Another test may take the free port between our look and nginx's bind: try again.
        for _ in 0..4 {
            if let Some(nginx) = Nginx::try_serve(root, work) {
                return nginx;
            }
        }
        let log = std::fs::read_to_string(work.join("error.log")).unwrap_or_default();
        panic!("nginx did not start:\n{log}");
    }

    fn try_serve(root: &Path, work: &Path) -> Option<Nginx> {
        std::fs::create_dir_all(work.join("tmp")).unwrap();
        // A free port: bind port 0, read it, let it go for nginx.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let w = work.display();
        let config = format!(
            r#"worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log;
events {{ worker_connections 64; }}
http {{
    types {{ application/xml xml; application/x-rpm rpm; application/gzip gz; text/plain repo asc; }}
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {w}/tmp/body;
    proxy_temp_path {w}/tmp/proxy;
    fastcgi_temp_path {w}/tmp/fastcgi;
    uwsgi_temp_path {w}/tmp/uwsgi;
    scgi_temp_path {w}/tmp/scgi;
{}
}}
"#,
            server_block(&format!("127.0.0.1:{port}"), root)
        );
        let conf = work.join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .expect("nginx is needed: run `cargo xtask test`, which installs it");
        let mut nginx = Nginx { child, port };
        // Bounded wait for the listening socket; None when nginx exits (e.g. port taken).
        for _ in 0..400 {
            if let Ok(Some(_)) = nginx.child.try_wait() {
                return None;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(nginx);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("nginx did not listen on 127.0.0.1:{port} within 20s");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    /// SIGTERM (nginx's fast shutdown stops its worker too; a SIGKILLed master would leave
    /// the worker behind), then SIGKILL if it has not exited within 10s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server block README.md shows, for `listen` and `root`.
pub fn server_block(listen: &str, root: &Path) -> String {
    format!(
        r#"    server {{
        listen {listen};
        root {};
        autoindex off;
        location / {{ try_files $uri =404; }}
        # Temp files and the publish history are not for clients.
        location ~ /\. {{ deny all; }}
        # Clients must see a new repomd.xml as soon as it is swapped in.
        location ~ /repodata/repomd\.xml(\.asc)?$ {{ add_header Cache-Control "no-cache"; }}
    }}"#,
        root.display()
    )
}
