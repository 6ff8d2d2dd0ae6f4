//! The crate graph shows where code runs: no Lambda links the embedded store or the local
//! workflow engine. Each function's normal dependencies come from `cargo tree` (as `sam
//! build` resolves them, per function); this fails if one creeps back.

use std::path::Path;
use std::process::Command;

/// Crates that belong to the local stack only (`viral up`, the CLI).
const LOCAL_ONLY: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "viral-embedded",
    "viral-workflow",
    "viral-local",
];

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The names of the crates `package` links (normal dependencies, features resolved as when
/// that package alone is built), the package itself first.
fn linked(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["tree", "--locked", "--offline", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}", "-p", package])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_function_links_the_local_stack() {
    let root = root();
    let mut functions: Vec<String> = std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    functions.sort();
    assert!(functions.len() > 30, "found only {functions:?}");
    let mut offenders = Vec::new();
    for function in &functions {
        let crates = linked(function);
        assert_eq!(crates.first(), Some(function));
        for name in crates {
            if LOCAL_ONLY.contains(&name.as_str()) {
                offenders.push(format!("{function} → {name}"));
            }
        }
    }
    offenders.dedup();
    assert!(
        offenders.is_empty(),
        "Lambdas link the local stack (`cargo tree -p <function> -e normal -i <crate>` shows the path): {offenders:?}"
    );
}

/// The check above can fail: the CLI does link the local stack.
#[test]
fn the_cli_links_the_local_stack() {
    let crates = linked("viral-cli");
    for name in ["rusqlite", "viral-local", "viral-workflow"] {
        assert!(
            crates.iter().any(|c| c == name),
            "{name} missing from the CLI's tree"
        );
    }
}
