//! Local HTTP servers for the provider client tests: each test mounts the routes of the API it
//! speaks on 127.0.0.1, plus a canary listener that counts connections the download guard
//! should have prevented.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// A listener that only counts the connections it gets.
pub struct Canary {
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl Canary {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(sock);
            }
        });
        Self { port, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A small valid-looking MP4 head: enough for the magic-byte check of the clients.
pub fn mp4_bytes() -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    v.extend_from_slice(&[0u8; 64]);
    v
}

/// One scripted answer: status, extra headers, body.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn raw(status: u16, content_type: &str, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.to_owned(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// A request the scripted server got.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A server that answers every request with the next scripted reply (the last one repeats)
/// and records what it was sent.
#[derive(Clone)]
pub struct Scripted {
    pub base: String,
    replies: Arc<std::sync::Mutex<std::collections::VecDeque<Reply>>>,
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Scripted {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let replies: Arc<std::sync::Mutex<std::collections::VecDeque<Reply>>> =
            Arc::new(std::sync::Mutex::new(replies.into_iter().collect()));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (r, s) = (replies.clone(), seen.clone());
        let app = Router::new().fallback(move |req: axum::extract::Request| {
            let (r, s) = (r.clone(), s.clone());
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 22).await.unwrap().to_vec();
                let query =
                    url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                        .into_owned()
                        .collect();
                s.lock().unwrap().push(Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query,
                    headers: parts.headers,
                    body,
                });
                let reply = {
                    let mut q = r.lock().unwrap();
                    if q.len() > 1 {
                        q.pop_front().unwrap()
                    } else {
                        q.front().cloned().unwrap()
                    }
                };
                let mut resp = axum::response::Response::builder().status(reply.status);
                for (k, v) in &reply.headers {
                    resp = resp.header(*k, v);
                }
                resp.body(axum::body::Body::from(reply.body)).unwrap()
            }
        });
        Self {
            base: serve(app).await,
            replies,
            seen,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn script(&self, replies: Vec<Reply>) {
        *self.replies.lock().unwrap() = replies.into_iter().collect();
        self.seen.lock().unwrap().clear();
    }
}

/// A server whose 200 answers promise more bytes than they send, then hang up.
pub async fn truncating_server(prefix: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    prefix.len() + 500
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(prefix.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A retry policy that does not slow tests down.
pub fn fast_retry() -> viral_providers::http::RetryPolicy {
    viral_providers::http::RetryPolicy {
        attempts: 3,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
    }
}
