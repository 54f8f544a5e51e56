//! `reprove demo --exit`: the whole story runs, and each of its outcomes is asserted by the
//! demo itself (a different outcome exits 1). This test checks the exit code, that the
//! narration reached every step, and what the demo leaves in `--data DIR`.

use crate::common;

use common::{reprove, text};

#[test]
fn the_demo_tells_the_whole_story() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let o = reprove(&["demo", "--exit", "--data", data.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    for step in 1..=10 {
        assert!(
            out.contains(&format!("\n{step}. ")),
            "step {step} missing:\n{out}"
        );
    }
    assert!(
        out.contains("reproduced bit for bit by 3 of 2 required operator(s): alpha, beta, gamma")
    );
    assert!(out.contains("mismatch reported by trusted operator(s) alpha, beta, gamma"));
    assert!(
        out.contains("hello-1.0.1/bin/hello"),
        "the diff names the file:\n{out}"
    );
    assert!(out.contains("gate hello@1.0.0: PASSED"));
    assert!(out.contains("gate hello@1.0.1: NOT PASSED"));
    assert!(out.contains("reproduced bit for bit by 2 of 2 required operator(s): alpha, beta"));
    // The staged release: refused before the rebuilds, announced after; latest proven.
    assert!(out.contains("/dl/hello/1.1.0/hello-1.1.0.tar.gz"), "{out}");
    assert!(
        out.contains("no operator has reproduced 1.1.0 yet"),
        "{out}"
    );
    assert!(
        out.contains("latest now serves 1.1.0") || out.contains("now serves 1.1.0"),
        "{out}"
    );
    assert!(
        out.contains("SECURITY"),
        "the fork is a security error:\n{out}"
    );
    // Everything is kept for inspection.
    for name in ["publisher", "alpha", "beta", "gamma"] {
        assert!(data.join("keys").join(format!("{name}.key")).is_file());
        assert!(data.join("keys").join(format!("{name}.pub")).is_file());
    }
    assert!(data.join("policy.toml").is_file());
    assert!(data.join("ledger").join("log.pub").is_file());
    assert!(data.join("work").join("alpha").is_dir());
    assert!(data.join("publisher/dist/hello-1.0.0.tar.gz").is_file());
}

#[test]
fn the_demo_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), b"keep me").unwrap();
    let o = reprove(&["demo", "--exit", "--data", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("not empty"), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read(tmp.path().join("precious.txt")).unwrap(),
        b"keep me"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}
