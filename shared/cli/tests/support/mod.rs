//! Running the `viral` binary as a user does: commands, a server, and a client.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const VIRAL: &str = env!("CARGO_BIN_EXE_viral");

pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn viral(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut c = Command::new(VIRAL);
    c.arg("--data-dir").arg(data_dir).args(args);
    c.env_remove("VIRAL_BACKEND")
        .env_remove("VIRAL_PUBLIC_URL")
        .env("RUST_LOG", "warn");
    // The offline defaults, whatever the machine has set.
    for live in [
        "YOUTUBE_API_KEY",
        "GNEWS_API_KEY",
        "ANTHROPIC_API_KEY",
        "VIRAL_TREND_SOURCES",
        "VIRAL_CONCEPT_WRITER",
        "STRIPE_PRICE_STARTER",
        "STRIPE_PRICE_PRO",
        "STRIPE_PRICE_AGENCY",
    ] {
        c.env_remove(live);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> (Server, String) {
    start_on(data_dir, env, free_port()).await
}

/// `viral up` on `port`, once it answers.
pub async fn start_on(data_dir: &Path, env: &[(&str, &str)], port: u16) -> (Server, String) {
    let child = viral(data_dir, env, &["up", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn viral up");
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status().is_success()
        {
            return (server, base);
        }
        assert!(
            Instant::now() < deadline,
            "viral up did not answer on {base}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// GET as a well-behaved client does: a 429 waits for its `Retry-After` (the per-key limit
/// is 10 requests per 10 s, which polling reaches); anything else must be a 200.
pub async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> Value {
    loop {
        let r = http.get(url).bearer_auth(key).send().await.unwrap();
        if r.status() == 429 {
            let wait: u64 = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("a 429 carries Retry-After in seconds");
            assert!(wait <= 10, "Retry-After {wait}s exceeds the window");
            tokio::time::sleep(Duration::from_secs(wait.max(1))).await;
            continue;
        }
        assert_eq!(r.status(), 200, "GET {url}");
        return r.json().await.unwrap();
    }
}
