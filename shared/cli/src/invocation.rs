//! How to run `viral` again, for the hints the CLI prints: `viral` once it is installed
//! (`cargo install --path shared/cli`), else the README's `cargo run -p viral-cli --`, which
//! is what works right after set-up (`viral` is not on PATH then).

use std::path::Path;
use std::sync::OnceLock;

pub fn command() -> &'static str {
    static COMMAND: OnceLock<&'static str> = OnceLock::new();
    COMMAND.get_or_init(|| match std::env::current_exe() {
        Ok(exe) if built_in_a_workspace(&exe) => "cargo run -p viral-cli --",
        _ => "viral",
    })
}

/// A binary cargo left under `target/<profile>/` rather than one installed on PATH.
fn built_in_a_workspace(exe: &Path) -> bool {
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "target")
}

#[cfg(test)]
mod tests {
    use super::built_in_a_workspace;
    use std::path::Path;

    #[test]
    fn a_binary_under_target_is_run_through_cargo() {
        assert!(built_in_a_workspace(Path::new(
            "/w/viral/target/debug/viral"
        )));
        assert!(built_in_a_workspace(Path::new(
            "/w/viral/target/release/viral"
        )));
        assert!(!built_in_a_workspace(Path::new(
            "/home/me/.cargo/bin/viral"
        )));
        assert!(!built_in_a_workspace(Path::new("/usr/local/bin/viral")));
    }
}
