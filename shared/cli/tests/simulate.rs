//! The loop learns: `viral simulate` as a user runs it, on a short horizon and two seeds (the
//! README's 28-day, 10-seed figures take minutes), and `viral demo --days`.

mod support;

use support::{json_of, viral};

#[test]
fn learning_beats_random_by_the_second_week_and_the_plot_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("loop.svg");
    let out = viral(
        dir.path(),
        &[],
        &[
            "simulate",
            "--days",
            "14",
            "--seeds",
            "2",
            "--json",
            "--plot",
            plot.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out);
    assert_eq!(json["simulated"], true);
    let weeks = json["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 2);
    let w2 = &weeks[1];
    let (learning, random, oracle) = (
        w2["learning"].as_f64().unwrap(),
        w2["random"].as_f64().unwrap(),
        w2["oracle"].as_f64().unwrap(),
    );
    assert!(learning > random, "{json}");
    assert!(
        oracle >= learning * 0.9,
        "the oracle is the ceiling: {json}"
    );
    // Learning improves on its own first week.
    assert!(learning > weeks[0]["learning"].as_f64().unwrap(), "{json}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
}

#[test]
fn a_simulated_week_of_autopilot_says_what_it_learned() {
    let dir = tempfile::tempdir().unwrap();
    let out = viral(dir.path(), &[], &["demo", "--days", "7"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("not real people"), "{stdout}");
    assert!(stdout.contains("day 7"), "{stdout}");
    assert!(stdout.contains("hidden"), "{stdout}");
    // Nothing went to the data dir.
    assert!(!dir.path().join("viral.db").exists());
}
