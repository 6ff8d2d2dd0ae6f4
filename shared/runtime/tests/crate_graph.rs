//! The crate graph shows where code runs: no Lambda links the embedded store or the local
//! workflow engine. Each function's normal dependencies come from `cargo tree` (as `sam
//! build` resolves them, per function); this fails if one creeps back. Nor does a function
//! that does not call Stripe link Stripe's client, or HTTP/2 (h2), which only that client
//! brings.

use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;

/// Crates that belong to the local stack only (`viral up`, the CLI).
const LOCAL_ONLY: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "viral-embedded",
    "viral-workflow",
    "viral-local",
    // The SDK's own HTTPS client (HTTP/2, proxies): the CLI's; the Lambdas use ours.
    "aws-smithy-http-client",
];

/// Crates only the functions that call Stripe link.
const STRIPE_ONLY: &[&str] = &["async-stripe", "viral-billing", "h2"];
/// The functions that call Stripe (their `viral-runtime` has the `stripe` feature).
const STRIPE_CALLERS: &[&str] = &["create-checkout", "create-portal"];

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

/// Every function and the crates it links, read once for the tests below.
static FUNCTIONS: LazyLock<Vec<(String, Vec<String>)>> = LazyLock::new(|| {
    let mut functions: Vec<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    functions.sort();
    assert!(functions.len() > 30, "found only {functions:?}");
    functions
        .into_iter()
        .map(|f| {
            let crates = linked(&f);
            assert_eq!(crates.first(), Some(&f));
            (f, crates)
        })
        .collect()
});

/// `function → crate` for each crate of `names` that a function for which `applies` holds
/// links.
fn offenders(names: &[&str], applies: impl Fn(&str) -> bool) -> Vec<String> {
    let mut offenders: Vec<String> = FUNCTIONS
        .iter()
        .filter(|(function, _)| applies(function))
        .flat_map(|(function, crates)| {
            crates
                .iter()
                .filter(|c| names.contains(&c.as_str()))
                .map(move |c| format!("{function} → {c}"))
        })
        .collect();
    offenders.dedup();
    offenders
}

#[test]
fn no_function_links_the_local_stack() {
    let offenders = offenders(LOCAL_ONLY, |_| true);
    assert!(
        offenders.is_empty(),
        "Lambdas link the local stack (`cargo tree -p <function> -e normal -i <crate>` shows the path): {offenders:?}"
    );
}

#[test]
fn only_the_functions_that_call_stripe_link_its_client_and_http2() {
    let found = offenders(STRIPE_ONLY, |f| !STRIPE_CALLERS.contains(&f));
    assert!(
        found.is_empty(),
        "Lambdas that do not call Stripe link its client or HTTP/2 (`cargo tree -p <function> -e normal -i <crate>` shows the path): {found:?}"
    );
    // The check can fail: the callers do link it.
    assert_eq!(
        offenders(&["async-stripe"], |f| STRIPE_CALLERS.contains(&f)).len(),
        STRIPE_CALLERS.len()
    );
}

/// The check above can fail: the CLI does link the local stack.
#[test]
fn the_cli_links_the_local_stack() {
    let crates = linked("viral-cli");
    for name in [
        "rusqlite",
        "viral-local",
        "viral-workflow",
        "aws-smithy-http-client",
    ] {
        assert!(
            crates.iter().any(|c| c == name),
            "{name} missing from the CLI's tree"
        );
    }
}
