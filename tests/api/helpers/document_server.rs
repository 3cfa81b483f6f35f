//! A small HTTP/1.1 server on 127.0.0.1 that answers what the test tells it to, for the
//! outbound guard and client ID metadata documents: a document, a redirect, a huge or a
//! slow body. Raw on tokio's TCP so a test controls every byte and every delay, and counts
//! the requests each path received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What one path answers.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent before the status line.
    pub delay: Duration,
    /// Send `Content-Length` (otherwise the body ends with the connection).
    pub content_length: bool,
}

impl Answer {
    pub fn json(body: &serde_json::Value) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap(),
            delay: Duration::ZERO,
            content_length: true,
        }
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            content_length: true,
        }
    }

    pub fn redirect(to: &str) -> Self {
        let mut answer = Self::status(302);
        answer.headers.push(("Location".into(), to.into()));
        answer
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn without_length(mut self) -> Self {
        self.content_length = false;
        self
    }
}

#[derive(Default)]
struct Routes {
    answers: HashMap<String, Answer>,
    hits: HashMap<String, usize>,
}

pub struct DocumentServer {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    pub port: u16,
    routes: Arc<Mutex<Routes>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DocumentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DocumentServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes = Arc::new(Mutex::new(Routes::default()));
        let shared = routes.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let routes = shared.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                    let answer = {
                        let mut routes = routes.lock().unwrap();
                        *routes.hits.entry(path.clone()).or_default() += 1;
                        routes.answers.get(&path).cloned()
                    }
                    .unwrap_or_else(|| Answer::status(404));
                    tokio::time::sleep(answer.delay).await;
                    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", answer.status);
                    for (name, value) in &answer.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    if answer.content_length {
                        head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
                    }
                    head.push_str("\r\n");
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&answer.body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            origin: format!("http://127.0.0.1:{port}"),
            port,
            routes,
            task,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    pub fn answer(&self, path: &str, answer: Answer) {
        self.routes
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), answer);
    }

    /// Requests `path` received so far.
    pub fn hits(&self, path: &str) -> usize {
        self.routes
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}
