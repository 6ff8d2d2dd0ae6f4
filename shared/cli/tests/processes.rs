//! Several real `viral` processes on one data dir, as the README's two-terminal flow has it:
//! `viral up` in one, `viral video create` in another. Jobs from either end, quickly, and a
//! job whose process is killed (`kill -9`) mid-job still ends, charged once.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, get_json, json_of, start, viral};

/// A tenant with room for every job here, and its API key.
fn tenant(dir: &Path) -> (String, String) {
    let created = json_of(
        &viral(
            dir,
            &[],
            &[
                "tenant",
                "create",
                "--name",
                "Two Terms",
                "--plan",
                "agency",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    (
        created["tenant_id"].as_str().unwrap().to_owned(),
        created["api_key"].as_str().unwrap().to_owned(),
    )
}

/// `viral video create` in its own process: how long the job took (from acceptance to its
/// end, as the command reports it) and how it ended.
fn cli_job(dir: &Path, tenant: &str, prompt: &str) -> Value {
    json_of(
        &viral(
            dir,
            &[],
            &[
                "video",
                "create",
                "--prompt",
                prompt,
                "--tenant",
                tenant,
                "--duration",
                "5",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    )
}

async fn api_job(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    prompt: &str,
    duration_s: u32,
) -> String {
    let r = http
        .post(format!("{base}/v1/videos"))
        .bearer_auth(key)
        .json(&json!({"prompt": prompt, "duration_s": duration_s}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls the job until it ends (or `limit` passes); returns it.
async fn ended(http: &reqwest::Client, base: &str, key: &str, job: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v = get_json(http, &format!("{base}/v1/videos/{job}"), key).await;
        if v["status"] == "succeeded" || v["status"] == "failed" {
            return v;
        }
        assert!(Instant::now() < deadline, "job never ended: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One test at a time: each measures how long jobs take, so they must not share the CPU.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viral_up_and_twenty_cli_jobs_share_one_data_dir() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (tenant, key) = tenant(dir.path());
    // The baseline: the same job with no other process on the data dir.
    let alone: Vec<f64> = (0..3)
        .map(|i| {
            let r = cli_job(dir.path(), &tenant, &format!("Alone {i}. One process."));
            assert_eq!(r["status"], "succeeded", "{r}");
            r["seconds"].as_f64().unwrap()
        })
        .collect();
    let baseline = median(alone.clone());

    let (_server, base) = start(dir.path(), &[]).await;
    let mut shared = Vec::new();
    for i in 0..20 {
        let r = cli_job(dir.path(), &tenant, &format!("Shared {i}. Two processes."));
        assert_eq!(r["status"], "succeeded", "job {i}: {r}");
        shared.push(r["seconds"].as_f64().unwrap());
    }
    let slowest = shared.iter().copied().fold(0.0, f64::max);

    // Jobs sent to the server while a CLI job runs.
    let http = reqwest::Client::new();
    let cli = {
        let dir = dir.path().to_owned();
        let tenant = tenant.clone();
        std::thread::spawn(move || cli_job(&dir, &tenant, "Meanwhile. From the CLI."))
    };
    let t = Instant::now();
    let mut api = Vec::new();
    for i in 0..3 {
        api.push(
            api_job(
                &http,
                &base,
                &key,
                &format!("From the API {i}. Three at once."),
                5,
            )
            .await,
        );
    }
    let mut api_secs = Vec::new();
    for id in &api {
        let v = ended(&http, &base, &key, id, Duration::from_secs(120)).await;
        assert_eq!(v["status"], "succeeded", "{v}");
        api_secs.push(t.elapsed().as_secs_f64());
    }
    let cli = cli.join().unwrap();
    assert_eq!(cli["status"], "succeeded", "{cli}");
    let usage = get_json(&http, &format!("{base}/v1/usage"), &key).await;
    assert_eq!(
        usage["videos"]["used"],
        3 + 20 + 1 + 3,
        "each job charged once"
    );
    eprintln!(
        "two processes: one job alone {baseline:.1} s (median of {alone:?}); with `viral up` on \
         the same data dir, 20 CLI jobs took {:.1} s median, {slowest:.1} s at most \
         ({:.2}x the baseline); 3 API jobs sent while a CLI job ran ended after {api_secs:.1?} s",
        median(shared.clone()),
        slowest / baseline
    );
    assert!(
        slowest <= 2.0 * baseline,
        "a job took {slowest:.1} s with two processes, over twice the {baseline:.1} s of one: {shared:?}"
    );
}

/// `viral video create` in the background; returns once it printed its job id.
fn spawn_cli_job(dir: &Path, tenant: &str) -> (Child, String) {
    let mut child = viral(
        dir,
        &[],
        &[
            "video",
            "create",
            "--prompt",
            "Killed mid-job. It still ends.",
            "--tenant",
            tenant,
            "--duration",
            "20",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Read on (to the end) so the command never writes into a closed pipe.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(id) = line
                .strip_prefix("job")
                .and_then(|rest| rest.split_whitespace().next())
                .filter(|id| id.starts_with("job_"))
            {
                let _ = tx.send(id.to_owned());
            }
        }
    });
    let id = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("viral video create never printed its job");
    (child, id)
}

async fn until_rendering(http: &reqwest::Client, base: &str, key: &str, job: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = get_json(http, &format!("{base}/v1/videos/{job}"), key).await;
        if v["status"] == "rendering" {
            return;
        }
        assert!(Instant::now() < deadline, "never started rendering: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This test watches a job every 100 ms to kill its process mid-render: the default rate limit
/// (10 requests per 10 s) would answer 429 and keep it waiting for seconds, long enough for a
/// fast render to end unseen.
const WATCHING: &[(&str, &str)] = &[("VIRAL_RATE_LIMIT", "1000/10s")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_process_is_killed_still_ends_charged_once() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (tenant, key) = tenant(dir.path());
    let http = reqwest::Client::new();

    // The CLI process dies mid-job; `viral up` picks the job up.
    let (_server, base) = start(dir.path(), WATCHING).await;
    let (mut cli, job) = spawn_cli_job(dir.path(), &tenant);
    until_rendering(&http, &base, &key, &job).await;
    cli.kill().unwrap();
    cli.wait().unwrap();
    let t = Instant::now();
    let v = ended(&http, &base, &key, &job, Duration::from_secs(180)).await;
    assert_eq!(v["status"], "succeeded", "{v}");
    let cli_recovery = t.elapsed().as_secs_f64();
    drop(_server);

    // The server dies mid-job; the next `viral up` on the data dir finishes it.
    let (first, base) = start(dir.path(), WATCHING).await;
    // Long enough that it is still rendering when the server is killed (a 5 s job can finish
    // between two polls on a fast machine).
    let job2 = api_job(&http, &base, &key, "The server dies. The job does not.", 20).await;
    until_rendering(&http, &base, &key, &job2).await;
    let mut first: Server = first;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let t = Instant::now();
    let (_second, base) = start(dir.path(), WATCHING).await;
    let v = ended(&http, &base, &key, &job2, Duration::from_secs(180)).await;
    assert_eq!(v["status"], "succeeded", "{v}");
    let server_recovery = t.elapsed().as_secs_f64();

    let usage = get_json(&http, &format!("{base}/v1/usage"), &key).await;
    assert_eq!(usage["videos"]["used"], 2, "each job charged once");
    eprintln!(
        "kill -9: the CLI's job ended {cli_recovery:.1} s after its process was killed; the \
         server's job {server_recovery:.1} s after the server was killed and started again"
    );
}
