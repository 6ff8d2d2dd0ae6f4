//! A panic in a Lambda is logged on stdout as one JSON error line with the invocation's
//! request id (the Lambda build aborts, so this line is all a panic leaves), whatever
//! `RUST_LOG` says. The test runs itself again as a child process that sets up logging as a
//! Lambda does (`telemetry::init` with `AWS_LAMBDA_FUNCTION_NAME` set) and panics.

use std::process::Command;

use serde_json::Value;
use viral_runtime::telemetry;

const CHILD: &str = "VIRAL_TEST_PANIC_CHILD";

#[test]
fn a_lambdas_panic_is_one_json_error_line_of_its_invocation_on_stdout() {
    if std::env::var_os(CHILD).is_some() {
        telemetry::init();
        telemetry::begin_invocation("req-boom", None);
        let n = std::hint::black_box(7);
        panic!("index {n} out of range");
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_lambdas_panic_is_one_json_error_line_of_its_invocation_on_stdout",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("AWS_LAMBDA_FUNCTION_NAME", "get-me")
        // A filter with no default level: the panic's line is logged all the same.
        .env("RUST_LOG", "viral_steps=debug")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the child panicked");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The test harness's own words may precede the line on the same row.
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(&l[l.find('{')?..]).ok())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let l = &lines[0];
    assert_eq!(l["level"], "ERROR");
    assert_eq!(l["message"], "the function panicked");
    assert_eq!(l["panic"], "index 7 out of range");
    assert_eq!(l["function_request_id"], "req-boom");
    assert_eq!(l["service"], "get-me");
    let location = l["location"].as_str().unwrap_or_default();
    assert!(location.ends_with("panic_log.rs:19"), "{location}");
    // The default hook's plain-text line is not written.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("index 7 out of range"), "{stderr}");
}
