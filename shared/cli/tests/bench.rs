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
