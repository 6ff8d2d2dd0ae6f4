//! The local stack as a new user runs it: `viral up` in one process, `viral tenant create` in
//! another, then curl-like requests with the printed key. Once on the embedded backend and once
//! on AWS adapters pointed at moto.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{get_json, json_of, start, viral};

async fn as_user(base: &str, data_dir: &Path, env: &[(&str, &str)]) {
    let created = json_of(
        &viral(
            data_dir,
            env,
            &[
                "tenant",
                "create",
                "--name",
                "Acme Studio",
                "--plan",
                "pro",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    let key = created["api_key"].as_str().unwrap();
    let http = reqwest::Client::new();
    let me = get_json(&http, &format!("{base}/v1/me"), key).await;
    assert_eq!(me["tenant"]["id"], created["tenant_id"]);
    assert_eq!(me["tenant"]["plan"], "pro");

    let usage = http
        .get(format!("{base}/v1/usage"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(usage.status(), 200);
    let denied = http.get(format!("{base}/v1/usage")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["error"]["code"], "missing_credentials");

    let new_key = http
        .post(format!("{base}/v1/api-keys"))
        .bearer_auth(key)
        .json(&serde_json::json!({"name": "laptop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(new_key.status(), 201);
    let spec: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/v1/me"].is_object());
}

#[tokio::test]
async fn local_stack_as_a_new_user_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path(), &[]).await;
    as_user(&base, dir.path(), &[]).await;

    let doctor = viral(dir.path(), &[], &["doctor"]).output().unwrap();
    assert!(
        doctor.status.success(),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("ok    store"), "{text}");
}

#[test]
fn bad_configuration_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = viral(dir.path(), &[("VIRAL_BACKEND", "gcp")], &["doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VIRAL_BACKEND"));
    let out = viral(dir.path(), &[("VIRAL_BACKEND", "aws")], &["doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VIRAL_TABLE"));
    let out = viral(
        dir.path(),
        &[],
        &["tenant", "create", "--name", "x", "--plan", "gold"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown plan"));
    let out = viral(
        dir.path(),
        &[("VIRAL_MEDIA_SIGNING_KEY", "too-short")],
        &["doctor"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VIRAL_MEDIA_SIGNING_KEY"));
}

/// Exit codes come from the same mapping as the API's statuses: refused input 3 (422), not
/// found 4 (404); the job's rules are the API's, checked before anything runs.
#[test]
fn exit_codes_follow_the_api_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| viral(dir.path(), &[], args).output().unwrap();
    let out = run(&["video", "create", "--prompt", "   "]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("prompt"));
    let out = run(&["video", "create", "--prompt", "Hi.", "--duration", "99"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("duration_s must be 5 to 60"));
    let out = run(&["tenant", "show", "tn_nobody"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant not found"));
}

#[tokio::test]
async fn aws_backend_against_moto() {
    let endpoint = viral_testkit::moto_endpoint();
    let table = viral_testkit::unique("viral-e2e-");
    let bucket = viral_testkit::unique("viral-e2e-").to_lowercase();
    let conf = viral_aws::emulator_sdk_config(&endpoint).await;
    viral_aws::DynamoItemStore::from_conf(&conf, &table)
        .create_table()
        .await
        .unwrap();
    viral_aws::S3BlobStore::from_conf(&conf, &bucket, true)
        .create_bucket()
        .await
        .unwrap();
    let kms_key = viral_aws::KmsTokenVault::create_key(&conf).await.unwrap();
    let env = [
        ("VIRAL_BACKEND", "aws"),
        ("VIRAL_TABLE", table.as_str()),
        ("VIRAL_BUCKET", bucket.as_str()),
        ("VIRAL_KMS_KEY_ID", kms_key.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path(), &env).await;
    as_user(&base, dir.path(), &env).await;
    let doctor = viral(dir.path(), &env, &["doctor"]).output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{text}");
    assert!(text.contains("DynamoDB table"), "{text}");
    assert!(text.contains("ok    vault"), "KMS seals and opens: {text}");
    // Publishing works on the AWS adapters too: a sandbox channel through the API, its tokens
    // sealed by KMS (on moto).
    let created = support::json_of(
        &viral(
            dir.path(),
            &env,
            &["tenant", "create", "--name", "Poster", "--json"],
        )
        .output()
        .unwrap(),
    );
    let key = created["api_key"].as_str().unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v1/accounts/connect"))
        .bearer_auth(key)
        .json(&serde_json::json!({"platform": "sandbox", "name": "Cloud channel"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let accounts = get_json(&http, &format!("{base}/v1/accounts"), key).await;
    assert_eq!(accounts["items"][0]["display_name"], "Cloud channel");
}

/// `viral dashboard deploy` puts every file in the bucket with its type and caching: a year
/// for hashed assets, revalidation for index.html and config.json (which CloudFront follows).
#[tokio::test]
async fn the_dashboard_deploys_to_its_bucket_with_its_cache_headers() {
    let endpoint = viral_testkit::moto_endpoint();
    let bucket = viral_testkit::unique("viral-dash-").to_lowercase();
    let conf = viral_aws::emulator_sdk_config(&endpoint).await;
    viral_aws::S3BlobStore::from_conf(&conf, &bucket, true)
        .create_bucket()
        .await
        .unwrap();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = viral(
        dir.path(),
        &env,
        &[
            "dashboard",
            "deploy",
            "--bucket",
            &bucket,
            "--oidc-authorize-endpoint",
            "https://auth.example.com/oauth2/authorize",
            "--oidc-token-endpoint",
            "https://auth.example.com/oauth2/token",
            "--oidc-client-id",
            "client123",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(
        keys.len(),
        viral_web::static_files(&viral_web::ClientConfig::local()).len()
    );
    let head = |key: String| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            s3.head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap()
        }
    };
    let index = head("index.html".into()).await;
    assert_eq!(index.cache_control(), Some("no-cache"));
    assert_eq!(index.content_type(), Some("text/html; charset=utf-8"));
    let app = keys
        .iter()
        .find(|k| k.starts_with("assets/app.") && k.ends_with(".js"))
        .expect("the hashed app.js");
    let asset = head(app.clone()).await;
    assert_eq!(
        asset.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(asset.content_type(), Some("text/javascript; charset=utf-8"));
    let config = s3
        .get_object()
        .bucket(&bucket)
        .key("config.json")
        .send()
        .await
        .unwrap();
    let body = config.body.collect().await.unwrap().into_bytes();
    let config: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        config["api_base"], "",
        "the API is on the dashboard's origin"
    );
    assert_eq!(config["sign_in_links"], false);
    assert_eq!(config["oidc"]["client_id"], "client123");
    // A bad option is a usage error, before anything is uploaded.
    let bad = viral(
        dir.path(),
        &env,
        &[
            "dashboard",
            "deploy",
            "--bucket",
            &bucket,
            "--api-url",
            "ftp://x",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn the_local_server_serves_signed_media_urls_only() {
    use std::sync::Arc;
    use viral_core::ports::{BlobKey, BlobStore};
    use viral_core::{Clock, ManualClock, SystemClock, Timestamp};
    use viral_embedded::{FsBlobStore, UrlSigner};

    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path(), &[]).await;
    // Write a blob the way the pipeline will: same data dir, the server's signing key.
    let key_text = std::fs::read_to_string(dir.path().join("media-signing.key")).unwrap();
    let signing_key = key_text.trim().as_bytes();
    let signer = UrlSigner::new(signing_key, &base, Arc::new(SystemClock));
    let blobs = FsBlobStore::new(&dir.path().join("blobs"), signer);
    let key = BlobKey::parse("tenants/tn_1/videos/job_1.mp4").unwrap();
    blobs
        .put(&key, b"not really an mp4".to_vec(), "video/mp4")
        .await
        .unwrap();

    let url = blobs
        .signed_url(&key, Duration::from_secs(60))
        .await
        .unwrap();
    let ok = reqwest::get(&url).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "video/mp4");
    assert_eq!(ok.headers()["accept-ranges"], "bytes");
    // Cached no longer than the URL lives (60 s here, less a second or so gone by).
    let max_age: u64 = ok.headers()["cache-control"]
        .to_str()
        .unwrap()
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&max_age), "{max_age}");
    assert_eq!(&ok.bytes().await.unwrap()[..], b"not really an mp4");

    // Players start and seek with byte ranges: one range is a 206 with its Content-Range.
    let client = reqwest::Client::new();
    let ranged = |range: &'static str| client.get(&url).header("range", range).send();
    let part = ranged("bytes=4-9").await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 4-9/17");
    assert_eq!(part.headers()["content-length"], "6");
    assert_eq!(&part.bytes().await.unwrap()[..], b"really");
    let tail = ranged("bytes=-3").await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(&tail.bytes().await.unwrap()[..], b"mp4");
    let past = ranged("bytes=17-").await.unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */17");
    let ignored = ranged("bytes=0-1,4-5").await.unwrap();
    assert_eq!(ignored.status(), 200, "several ranges: the whole file");
    // HEAD: the headers, no body.
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "17");
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    assert!(head.bytes().await.unwrap().is_empty());

    let refused = |url: String, code: &'static str| async move {
        let r = reqwest::get(&url).await.unwrap();
        assert_eq!(r.status(), 403, "{url}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{url}");
    };
    refused(url.replace("job_1", "job_2"), "invalid_signature").await;
    refused(format!("{base}/media/{key}"), "invalid_signature").await;
    // Signed an hour ago with a one-minute life.
    let an_hour_ago = Timestamp(SystemClock.now().millis() - 3_600_000);
    let old = UrlSigner::new(signing_key, &base, Arc::new(ManualClock::new(an_hour_ago)))
        .sign(&key, Duration::from_secs(60));
    refused(old, "url_expired").await;
}

/// ffmpeg from the `imageio-ffmpeg` wheel that `tests/run` installs: an independent decoder.
fn ffmpeg() -> String {
    match std::env::var("VIRAL_TEST_FFMPEG") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "VIRAL_TEST_FFMPEG is not set: run the test command `tests/run` (it installs ffmpeg), \
             or point VIRAL_TEST_FFMPEG at an ffmpeg binary"
        ),
    }
}

#[tokio::test]
async fn a_video_job_through_the_api_gives_a_playable_vertical_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path(), &[]).await;
    let created = json_of(
        &viral(
            dir.path(),
            &[],
            &[
                "tenant",
                "create",
                "--name",
                "Video team",
                "--plan",
                "starter",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    let key = created["api_key"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v1/videos"))
        .bearer_auth(&key)
        .header("idempotency-key", "e2e-1")
        .json(&serde_json::json!({"prompt": "Three facts about octopuses. They have three hearts. Their blood is blue. Each arm can taste."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let deadline = Instant::now() + Duration::from_secs(180);
    let job = loop {
        let job = get_json(&http, &format!("{base}/v1/videos/{id}"), &key).await;
        if job["status"] == "succeeded" || job["status"] == "failed" {
            break job;
        }
        assert!(Instant::now() < deadline, "job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["provider"], "storyboard");
    // The word-timed captions burned into the video come as files too.
    for (format, head) in [("vtt_url", "WEBVTT\n\n"), ("srt_url", "1\n")] {
        let url = job["captions"][format]
            .as_str()
            .expect("a signed captions URL");
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        assert!(text.starts_with(head) && text.contains(" --> "), "{text}");
    }
    let url = job["video_url"].as_str().expect("a signed video URL");
    let bytes = reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();

    // Our validator…
    let p = viral_media::probe(&bytes).unwrap();
    assert_eq!(
        (p.width, p.height, p.video_codec.as_str()),
        (1080, 1920, "h264")
    );
    assert!((p.duration_s - 15.0).abs() <= 0.5, "{}", p.duration_s);
    // …and an independent decoder: every frame decodes, and it agrees on size and length.
    let file = dir.path().join("downloaded.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let decode = Command::new(ffmpeg())
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );
    let info = Command::new(ffmpeg())
        .arg("-i")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stderr);
    assert!(
        text.contains("h264") && text.contains("1080x1920"),
        "{text}"
    );
    let dur = text
        .split("Duration: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("a duration");
    let secs: f64 = dur
        .split(':')
        .fold(0.0, |acc, part| acc * 60.0 + part.parse::<f64>().unwrap());
    assert!((secs - 15.0).abs() <= 0.5, "ffmpeg says {dur}");

    let events = get_json(&http, &format!("{base}/v1/videos/{id}/events"), &key).await;
    assert_eq!(events["status"], "SUCCEEDED");
    // Times as everywhere else in the API; task tokens never shown (they answer tasks).
    let started = events["started_at"]
        .as_str()
        .expect("started_at is RFC 3339 text");
    assert!(
        viral_core::Timestamp::parse_rfc3339(started).is_some(),
        "{started}"
    );
    let submit = events["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "TaskScheduled" && e["state"] == "RenderClip")
        .expect("the RenderClip task is in the history");
    assert_eq!(
        submit["details"]["parameters"]["MessageBody"]["token"], "[task token]",
        "{submit}"
    );
    // Local tokens are `<process>.tt_<id>`: none anywhere in the history.
    assert!(!events["history"].to_string().contains(".tt_"));
    let usage = get_json(&http, &format!("{base}/v1/usage"), &key).await;
    assert_eq!(usage["videos"]["used"], 1);
}

#[test]
fn viral_demo_goes_from_trends_to_five_concepts_to_a_video_and_takes_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = viral(dir.path(), &[], args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let text = run(&["demo"]);
    assert!(
        text.contains("trends from sample, written by rules"),
        "{text}"
    );
    let (batch, rest) = text.split_once("chosen:").expect("the chosen concept");
    assert_eq!(
        batch.lines().filter(|l| l.starts_with("cn_")).count(),
        5,
        "{text}"
    );
    let chosen = rest
        .lines()
        .nth(1)
        .and_then(|l| l.split(' ').next())
        .unwrap();
    assert!(chosen.starts_with("cn_"), "{text}");
    assert!(text.contains("(succeeded)"), "{text}");
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("video     "))
        .expect("the video's path");
    let bytes = std::fs::read(path).unwrap();
    let p = viral_media::probe(&bytes).unwrap();
    assert_eq!((p.width, p.height), (1080, 1920));
    for platform in ["tiktok", "youtube_shorts", "instagram_reels"] {
        assert!(
            text.lines()
                .any(|l| l.contains(platform) && l.ends_with("pass")),
            "{text}"
        );
    }
    // It was posted to a sandbox channel through the publish workflow.
    let posted = text
        .lines()
        .find(|l| l.starts_with("post_"))
        .expect("the post's line");
    assert!(
        posted.contains("Demo channel")
            && posted.contains("published")
            && posted.ends_with("(sandbox)"),
        "{posted}"
    );
    let posts: serde_json::Value = serde_json::from_str(&run(&["posts", "--json"])).unwrap();
    let post = &posts["items"][0];
    assert_eq!(
        (&post["status"], &post["sandbox"], &post["ai_generated"]),
        (&"published".into(), &true.into(), &true.into())
    );
    assert!(
        post["platform_post_id"]
            .as_str()
            .unwrap()
            .starts_with("sbxpost_")
    );
    // A simulated day later the collector fetched its numbers and the learner took them in,
    // labelled simulated.
    assert!(
        text.contains("loop      a simulated day later, the sandbox's simulated audience"),
        "{text}"
    );
    let numbers = text.lines().find(|l| l.starts_with("metrics   ")).unwrap();
    assert!(
        numbers.contains(" views") && numbers.ends_with("(simulated)"),
        "{numbers}"
    );
    let learned = text.lines().find(|l| l.starts_with("learner   ")).unwrap();
    assert!(
        learned.contains(" before → ") && learned.contains(" after "),
        "{learned}"
    );
    let post_id = post["id"].as_str().unwrap();
    let series: serde_json::Value =
        serde_json::from_str(&run(&["metrics", post_id, "--json"])).unwrap();
    let first = &series["observations"][0];
    assert_eq!(series["observations"].as_array().unwrap().len(), 1);
    assert_eq!(first["simulated"], true);
    assert!(first["views"].as_u64().unwrap() > 0);
    assert!(viral_core::Timestamp::parse_rfc3339(first["observed_at"].as_str().unwrap()).is_some());
    let insights = run(&["insights"]);
    assert!(insights.contains("platform:sandbox"), "{insights}");
    let job = post["video_id"].as_str().unwrap().to_owned();
    let accounts: serde_json::Value =
        serde_json::from_str(&run(&["accounts", "list", "--json"])).unwrap();
    let channel = accounts["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(accounts["items"][0]["today"]["posts"], 1);
    // A post for later waits for its time; cancelled posts and refusals say why.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let soon = viral_core::Timestamp::from_secs(now + 2 * 86_400).rfc3339();
    let later = run(&["publish", &job, "--to", &channel, "--at", &soon]);
    let line = later.lines().find(|l| l.starts_with("post_")).unwrap();
    assert!(line.contains("scheduled  at "), "{later}");
    let scheduled: serde_json::Value =
        serde_json::from_str(&run(&["posts", "--status", "scheduled", "--json"])).unwrap();
    assert_eq!(scheduled["items"].as_array().unwrap().len(), 1);
    let refused = viral(
        dir.path(),
        &[],
        &[
            "publish",
            &job,
            "--to",
            &channel,
            "--at",
            "2099-01-01T00:00:00Z",
        ],
    )
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(3),
        "more than 30 days ahead is refused"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("30 days ahead"));
    // The CLI user's side of the loop: feedback, what was learned, the concepts kept.
    let feedback = [
        "feedback",
        chosen,
        "--platform",
        "tiktok",
        "--views",
        "1200",
        "--likes",
        "90",
        "--completion-rate",
        "0.4",
    ];
    let fb = run(&feedback);
    assert!(
        fb.starts_with(&format!("Recorded {chosen} on tiktok: scored 0.")),
        "{fb}"
    );
    // The same numbers again, for a program: they replace the first, counted once.
    let again = run(&[&feedback[..], &["--json"]].concat());
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["concept_id"], chosen, "{again}");
    assert_eq!(again["replaced_earlier_observation"], true, "{again}");
    let insights = run(&["insights"]);
    // The demo's post a day old (weight 0.625) and this feedback (1).
    assert!(
        insights.starts_with("1.63 observations' worth of"),
        "{insights}"
    );
    let list = run(&["concepts", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    let topic = run(&[
        "concepts",
        "generate",
        "--topic",
        "night trains",
        "--count",
        "2",
        "--json",
    ]);
    let topic: serde_json::Value = serde_json::from_str(&topic).unwrap();
    assert_eq!(topic["trend_source"], "topic");
    assert_eq!(topic["concepts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_body_declared_too_large_is_refused_before_it_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path(), &[]).await;
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // 100 GB declared, two bytes sent: the answer must not wait for the rest.
    s.write_all(
        b"POST /v1/concepts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Authorization: Bearer vk_live_x\r\nContent-Length: 99999999999\r\n\r\n{}",
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut answer))
        .await
        .expect("answered at once, not after the declared body")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
}

#[test]
fn tenants_are_listed_newest_first_and_shown_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = viral(dir.path(), &[], args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    assert!(run(&["tenant", "list"]).starts_with("no tenants yet"));
    let id_of = |text: &str| {
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        v["tenant_id"].as_str().unwrap().to_owned()
    };
    let acme = id_of(&run(&[
        "tenant", "create", "--name", "Acme", "--plan", "pro", "--json",
    ]));
    let zed = id_of(&run(&["tenant", "create", "--name", "Zed", "--json"]));
    let table = run(&["tenant", "list"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[1].starts_with(&zed) && rows[1].ends_with("Zed"),
        "{table}"
    );
    assert!(
        rows[2].starts_with(&acme) && rows[2].contains(" pro "),
        "{table}"
    );
    let lines = run(&["tenant", "list", "--json"]);
    assert_eq!(lines.lines().count(), 2);
    let shown = run(&["tenant", "show", &acme]);
    assert!(
        shown.contains("plan      pro (set by an operator)"),
        "{shown}"
    );
    assert!(shown.contains("videos    0 of 40 used"), "{shown}");
    assert!(!shown.contains('{'), "text, not JSON: {shown}");
    let json: Value = serde_json::from_str(&run(&["tenant", "show", &acme, "--json"])).unwrap();
    assert_eq!(json["plan"], "pro");
    assert_eq!(json["narration"], Value::Null);
    let set = run(&[
        "tenant",
        "set-narration",
        &acme,
        "--language",
        "es",
        "--speed",
        "1.1",
    ]);
    assert!(set.contains("narrated in es, at 1.1×"), "{set}");
    let json: Value = serde_json::from_str(&run(&["tenant", "show", &acme, "--json"])).unwrap();
    assert_eq!(
        json["narration"],
        serde_json::json!({"language": "es", "speed": 1.1})
    );
    let bad = viral(
        dir.path(),
        &[],
        &["tenant", "set-narration", &acme, "--speed", "9"],
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("speed must be 0.5 to 2.0"),
        "{bad:?}"
    );
    run(&["tenant", "set-narration", &acme, "--clear"]);
    assert!(!run(&["tenant", "show", &acme]).contains("narration"));
}

/// An operator suspends, resumes and deletes a tenant: suspension shows in the listing; delete
/// asks for confirmation (refused without a terminal unless `--yes`) and removes the tenant's
/// items and its video files.
#[test]
fn a_tenant_is_suspended_resumed_and_deleted_with_its_videos() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| viral(dir.path(), &[], args).output().unwrap();
    let created = run(&["tenant", "create", "--name", "Gone Soon", "--json"]);
    let id = json_of(&created)["tenant_id"].as_str().unwrap().to_owned();
    let job = run(&[
        "video",
        "create",
        "--tenant",
        &id,
        "--prompt",
        "Night trains. Wake abroad.",
        "--json",
    ]);
    assert!(job.status.success(), "{job:?}");
    let files = |root: &Path| -> usize {
        fn walk(p: &Path) -> usize {
            std::fs::read_dir(p).map_or(0, |d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        walk(&root.join("blobs"))
    };
    assert!(files(dir.path()) > 0, "the job stored its video");

    assert!(run(&["tenant", "suspend", &id]).status.success());
    let listed = String::from_utf8_lossy(&run(&["tenant", "list"]).stdout).into_owned();
    assert!(listed.contains(" suspended "), "{listed}");
    assert!(run(&["tenant", "resume", &id]).status.success());
    let listed = String::from_utf8_lossy(&run(&["tenant", "list"]).stdout).into_owned();
    assert!(listed.contains(" active "), "{listed}");

    let refused = run(&["tenant", "delete", &id]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let deleted = run(&["tenant", "delete", &id, "--yes"]);
    assert!(deleted.status.success(), "{deleted:?}");
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("video object"));
    assert_eq!(files(dir.path()), 0, "its videos are gone");
    assert_eq!(run(&["tenant", "show", &id]).status.code(), Some(4));
    assert_eq!(run(&["tenant", "suspend", &id]).status.code(), Some(4));
}
