//! `reprove release publish` against a real ledger on 127.0.0.1: a release naming a location
//! others cannot fetch (a local path, a `file://` URL) is refused with nothing logged unless
//! `--local-only` says so; and a wrong `--log-key` says plainly that the release WAS logged,
//! at which index, and that what failed is the proof.

use std::path::Path;
use std::process::Output;

use crate::common::{ORIGIN, agent, get_ok, reprove, serve_dir, signer, text};
use crate::rb::Ledger;

/// The log's size, from its checkpoint (the second line).
fn size(ledger: &Ledger) -> u64 {
    let cp = get_ok(&agent(), &format!("{}/checkpoint", ledger.server.url));
    text(&cp).lines().nth(1).unwrap().parse().unwrap()
}

/// A manifest in `dir` whose source is `source` (TOML lines of `[source]`) and whose one
/// artifact is `artifact` (TOML lines of `[[artifact]]` after its name and path).
fn manifest(dir: &Path, source: &str, artifact: &str) -> String {
    std::fs::write(dir.join("src.tar.gz"), b"source bytes").unwrap();
    std::fs::write(dir.join("hello.bin"), b"artifact bytes").unwrap();
    let path = dir.join("reprove.toml");
    std::fs::write(
        &path,
        format!(
            "project = \"hello\"\nversion = \"1.0\"\n[source]\n{source}\n[recipe]\n\
             command = [\"make\"]\nsource_date_epoch = 1700000000\n\
             outputs = {{ \"out/hello\" = \"hello.bin\" }}\n\
             [[artifact]]\nname = \"hello.bin\"\npath = \"hello.bin\"\n{artifact}\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

fn publish(ledger: &Ledger, key: &Path, manifest: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "release",
        "publish",
        manifest,
        "--key",
        key.to_str().unwrap(),
        "--ledger",
        &ledger.server.url,
    ];
    args.extend(extra);
    reprove(&args)
}

#[test]
fn locations_others_cannot_fetch_are_refused_unless_local_only() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(dir.path());
    let key = ledger.key("publisher.example");
    let work = dir.path().join("m");
    std::fs::create_dir_all(&work).unwrap();
    let served = serve_dir(&work);
    let fine_source = format!("path = \"src.tar.gz\"\nurl = \"{served}/src.tar.gz\"");
    let local = work.join("hello.bin").display().to_string();
    let cases = [
        ("path = \"src.tar.gz\"".to_owned(), String::new()),
        (
            format!("path = \"src.tar.gz\"\nurl = \"file://{}\"", work.display()),
            String::new(),
        ),
        (fine_source.clone(), format!("url = \"file://{local}\"")),
        (fine_source.clone(), format!("url = \"{local}\"")),
    ];
    for (source, artifact) in &cases {
        let m = manifest(&work, source, artifact);
        let before = size(&ledger);
        let o = publish(&ledger, &key, &m, &["--log-key", &ledger.vkey]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{source} / {artifact}: {err}");
        assert!(err.contains("Rebuilders would refuse it"), "{err}");
        assert!(err.contains("--local-only"), "{err}");
        assert!(text(&o.stdout).is_empty());
        assert_eq!(size(&ledger), before, "refused: nothing logged");
    }
    // Fetchable everywhere: logged.
    let m = manifest(
        &work,
        &fine_source,
        &format!("url = \"{served}/hello.bin\""),
    );
    let o = publish(&ledger, &key, &m, &["--log-key", &ledger.vkey]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A local one with --local-only: logged too, for this machine's rebuilds.
    let before = size(&ledger);
    let m = manifest(&work, "path = \"src.tar.gz\"", "");
    let o = publish(
        &ledger,
        &key,
        &m,
        &["--log-key", &ledger.vkey, "--local-only"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(size(&ledger), before + 1);
}

#[test]
fn a_wrong_log_key_says_the_release_was_logged_and_the_proof_failed() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(dir.path());
    let key = ledger.key("publisher.example");
    let work = dir.path().join("m");
    std::fs::create_dir_all(&work).unwrap();
    let m = manifest(&work, "path = \"src.tar.gz\"", "");
    let wrong = signer(ORIGIN, 99).verifier().to_string();
    let before = size(&ledger);
    let o = publish(&ledger, &key, &m, &["--log-key", &wrong, "--local-only"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(size(&ledger), before + 1, "the release is in the log");
    assert!(
        err.contains(&format!("hello@1.0 WAS logged, at index {before}")),
        "{err}"
    );
    assert!(
        err.contains("did not verify under the log key given"),
        "{err}"
    );
    assert!(err.contains(&wrong), "{err}");
    // Publishing again with the right key finds it there: the same index, not a second entry.
    let o = publish(
        &ledger,
        &key,
        &m,
        &["--log-key", &ledger.vkey, "--local-only"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), before.to_string());
    assert_eq!(size(&ledger), before + 1);
}
