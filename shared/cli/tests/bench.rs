//! Bursts queue, they do not fail: `viral bench pipeline` as a user runs it, 1,000 jobs at
//! once, and 200 jobs against a provider that refuses more than two renders at a time.

mod support;

use support::viral;

/// Runs the bench; returns what it printed once it succeeded.
fn bench(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["bench", "pipeline"];
    all.extend_from_slice(args);
    let out = viral(dir.path(), &[], &all).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "viral bench pipeline {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("viral bench pipeline {args:?}:\n{stdout}");
    stdout
}

#[test]
fn a_burst_of_a_thousand_jobs_all_succeed() {
    let out = bench(&[]);
    assert!(out.contains("1000/1000 succeeded"), "{out}");
}

#[test]
fn two_hundred_jobs_queue_behind_a_provider_that_takes_two_at_a_time() {
    let out = bench(&[
        "--jobs",
        "200",
        "--concurrency",
        "2",
        "--provider-limit",
        "2",
        "--render-ms",
        "20",
    ]);
    assert!(out.contains("200/200 succeeded"), "{out}");
    assert!(out.contains("rendered up to 2 at once"), "{out}");
    assert!(out.contains(", 0 refused over its limit"), "{out}");
}

/// `viral bench cost` on moto: every API call and both kinds of job are counted and priced,
/// the calls attributed to the functions that make them.
#[test]
fn the_cost_of_a_video_is_counted_on_moto() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = viral_testkit::moto_endpoint();
    let out = viral(
        dir.path(),
        &[],
        &["bench", "cost", "--endpoint", &endpoint, "--json"],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    eprintln!("viral bench cost:\n{report:#}");
    let api = report["api"].as_array().unwrap();
    let route = |r: &str| api.iter().find(|a| a["route"] == r).unwrap().clone();
    // Authentication counts the rate limit in the write that checks the key, and reads the
    // tenant of a key it has seen before at the same time: two requests, one round trip.
    let me = route("GET /v1/me");
    assert_eq!(me["dynamodb"], 2, "{api:?}");
    assert_eq!(me["dynamodb_round_trips"], 1, "{api:?}");
    // Each function is its own process: its first request with the key reads the tenant
    // after the check (nothing learned in another function helps it).
    assert_eq!(me["dynamodb_round_trips_first_request"], 2, "{api:?}");
    assert_eq!(
        route("GET /v1/usage")["dynamodb_round_trips_first_request"],
        3,
        "{api:?}"
    );
    let create = route("POST /v1/videos");
    // The key's record and the tenant, then the accept transaction: no reads of health (a
    // provider named) or of the quota (plenty left) on top.
    assert_eq!(create["dynamodb"], 3, "{create}");
    assert_eq!(create["dynamodb_round_trips"], 2, "{create}");
    for r in ["GET /v1/usage", "GET /v1/videos"] {
        assert_eq!(route(r)["dynamodb_round_trips"], 2, "{api:?}");
    }
    assert_eq!(
        report["goals"]["dynamodb_round_trips_per_api_call_met"], true,
        "{report}"
    );
    assert!(
        create["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "states StartExecution"),
        "{create}"
    );
    assert!(
        create["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "dynamodb TransactWriteItems")
    );
    for job in report["jobs"].as_array().unwrap() {
        let total = job["total_usd"].as_f64().unwrap();
        assert!(total > 0.0 && total < 0.01, "{job}");
        // Parts priced from counts the report shows: $0.025 per 1,000 transitions, three SQS
        // requests per provider message, two API Gateway requests.
        let transitions = job["transitions"].as_u64().unwrap() as f64;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(
            close(
                job["stepfunctions_usd"].as_f64().unwrap(),
                transitions * 0.025 / 1e3
            ),
            "{job}"
        );
        let messages = job["invocations"]["provider-worker"].as_u64().unwrap() as f64;
        assert!(
            close(
                job["sqs_usd"].as_f64().unwrap(),
                3.0 * messages * 0.40 / 1e6
            ),
            "{job}"
        );
        assert!(
            close(job["api_gateway_usd"].as_f64().unwrap(), 2.0 / 1e6),
            "{job}"
        );
        // One view of the delivered video through CloudFront.
        let video_gb = job["video_bytes"].as_f64().unwrap() / 1e9;
        assert!(
            close(
                job["cloudfront_usd"].as_f64().unwrap(),
                video_gb * 0.085 + 0.01 / 1e4
            ),
            "{job}"
        );
        // PlanJob, RenderClips, one RenderClip, JoinVideo (which stores and ends the job).
        assert_eq!(job["transitions"], 4, "{job}");
        assert!(job["video_bytes"].as_u64().unwrap() > 100_000, "{job}");
        // Each step ran once as its own function, and its calls are its own.
        for f in ["plan-job", "provider-worker", "join-video"] {
            assert!(job["invocations"][f].as_u64().unwrap() >= 1, "{f}: {job}");
        }
        // The join writes the video where it is served from: no staged copy to move.
        let join_calls = &job["calls"]["join-video"];
        assert!(join_calls["s3 PUT object"].as_u64().unwrap() >= 1, "{job}");
        assert!(
            join_calls["dynamodb TransactWriteItems"].as_u64().unwrap() >= 1,
            "{job}"
        );
    }
}
