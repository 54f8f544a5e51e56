//! Shared helpers for the verifier's integration tests.

use std::path::PathBuf;

/// The folder of public conformance vectors: `$REPROVE_VECTORS`, or `../shared/vectors` beside
/// the workspace.
///
/// Returns `None` (after saying so on stderr) when the folder is missing on a developer's plain
/// clone; under CI (`CI=true`) a missing folder is a failure, so CI can never pass by skipping.
pub fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("REPROVE_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "conformance vectors not found at {} (CI=true requires them; set REPROVE_VECTORS)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: conformance vectors not found at {}; set REPROVE_VECTORS to run them",
        dir.display()
    );
    None
}

/// Every `*.json` file below `dir`, recursively, sorted for stable output.
pub fn json_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
