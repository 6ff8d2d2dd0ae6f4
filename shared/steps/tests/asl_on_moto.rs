//! The workflow definition on moto's Step Functions interpreter (execution turned on), driven
//! by `tests/moto/sfn_video_generation.py` with boto3 from the test virtualenv.

use std::path::Path;
use std::process::Command;

#[test]
fn the_workflow_definition_runs_on_moto_step_functions() {
    let endpoint = viral_testkit::moto_endpoint();
    let python = match std::env::var("VIRAL_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "VIRAL_TEST_PYTHON is not set: run the test command `tests/run` (its virtualenv has boto3)"
        ),
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/moto/sfn_video_generation.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&endpoint)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok:"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
