//! End-to-end tests of `reprove key …`, driving the real binary.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use reprove_verifier::note::{Note, NoteSigner, NoteVerifier};

fn reprove(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reprove"))
        .args(args)
        .output()
        .expect("run reprove")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn generate_writes_a_working_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = reprove(&[
        "key",
        "generate",
        "--name",
        "rebuilder.example.org",
        "--out",
        out,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = String::from_utf8(o.stdout).unwrap();

    let key_file = dir.path().join("rebuilder.example.org.key");
    let pub_file = dir.path().join("rebuilder.example.org.pub");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key must not be readable by others");

    let private = std::fs::read_to_string(&key_file).unwrap();
    let public = std::fs::read_to_string(&pub_file).unwrap();
    assert_eq!(printed, public, "stdout is the vkey line");
    assert!(private.starts_with("PRIVATE+KEY+rebuilder.example.org+"));

    // The two files are one key pair: a note signed with the private key verifies with the vkey.
    let signer = NoteSigner::from_private_key(private.trim_end()).unwrap();
    let verifier = NoteVerifier::parse(public.trim_end()).unwrap();
    let note = Note::sign("hello\n", &[&signer]).unwrap();
    assert!(note.verify(&[verifier]).is_ok());
}

#[test]
fn generate_json_names_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = reprove(&[
        "key",
        "generate",
        "--name",
        "log.example/x",
        "--out",
        out,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["name"], "log.example/x");
    assert!(v["key"].as_str().unwrap().starts_with("log.example/x+"));
    // A '/' in the name is made file-safe in the file name only.
    assert!(dir.path().join("log.example_x.key").is_file());
    assert_eq!(v["key_id"].as_str().unwrap().len(), 8);
}

#[test]
fn generate_refuses_to_overwrite_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert!(
        reprove(&["key", "generate", "--name", "k", "--out", out])
            .status
            .success()
    );
    let before = std::fs::read(dir.path().join("k.key")).unwrap();
    let o = reprove(&["key", "generate", "--name", "k", "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.path().join("k.key")).unwrap(), before);
}

#[test]
fn generate_rejects_bad_names_and_writes_nothing() {
    for bad in ["", "has space", "a+b", "tab\tname"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("keys");
        let o = reprove(&[
            "key",
            "generate",
            "--name",
            bad,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "name {bad:?}");
        assert!(stderr(&o).contains("invalid key name"), "{}", stderr(&o));
        assert!(!out.exists(), "nothing may be written for name {bad:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = reprove(&["key", "generate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = reprove(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_describes_exit_codes() {
    let o = reprove(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(help.contains("Exit codes"), "{help}");
}
