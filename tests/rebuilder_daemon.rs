//! End-to-end tests of the rebuilder node (`reprove rebuilder run`): real ledgers on
//! 127.0.0.1, real nodes as processes, real sandboxed builds of the fixtures. Every wait is
//! bounded; the throughput benchmark is `#[ignore]`d (run it with `--ignored --nocapture`).

use crate::common;
use crate::rebuilder;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, agent, get_ok, init_log, reprove, text};
use rebuilder::{
    Daemon, Key, Logged, attestations, free_ports, generate_key, prepare_fixture, publish,
    serve_bytes, variant, with_source_url,
};
use reprove_verifier::predicates::RebuildResult;

/// The longest one node run may take (the Rust fixture builds in the sandbox).
const NODE_WAIT: Duration = Duration::from_secs(600);

/// A ledger with a publisher key.
struct Setup {
    dir: tempfile::TempDir,
    server: Server,
    log_vkey: String,
    publisher: Key,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("log");
    let log_vkey = init_log(&data);
    let server = Server::start(&data, &[]);
    let publisher = generate_key(dir.path(), "publisher");
    Setup {
        dir,
        server,
        log_vkey,
        publisher,
    }
}

impl Setup {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn attestations(&self, project: &str, version: &str) -> Vec<Logged> {
        attestations(&self.server.url, &self.log_vkey, project, version)
    }

    fn log_size(&self) -> u64 {
        let cp = get_ok(&agent(), &format!("{}/checkpoint", self.server.url));
        let text = String::from_utf8(cp).unwrap();
        text.lines().nth(1).unwrap().parse().unwrap()
    }
}

/// The `--json` summary a node prints when it stops.
fn summary(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the node's summary is not JSON ({e}): {stdout:?}"))
}

/// The attestations in `logged` signed by `key`.
fn by<'a>(logged: &'a [Logged], key: &Key) -> Vec<&'a Logged> {
    logged
        .iter()
        .filter(|l| l.signers == [key.vkey.clone()])
        .collect()
}

#[test]
fn two_nodes_with_different_keys_reproduce_the_c_and_rust_fixtures() {
    let s = setup();
    let c = prepare_fixture("hello-c", s.path());
    let rust = prepare_fixture("hello-rust", s.path());
    let c_index = publish(&c, &s.publisher, &s.server.url, &s.log_vkey);
    let rust_index = publish(&rust, &s.publisher, &s.server.url, &s.log_vkey);
    let nodes = [
        generate_key(s.path(), "node-a"),
        generate_key(s.path(), "node-b"),
    ];
    // Both nodes at once, each two jobs at a time.
    let daemons: Vec<Daemon> = nodes
        .iter()
        .map(|key| {
            let work = s
                .path()
                .join(format!("work-{}", key.vkey.split('+').next().unwrap()));
            Daemon::spawn(
                &s.server.url,
                &s.log_vkey,
                key,
                &work,
                &[
                    "--jobs",
                    "2",
                    "--exit-when-idle",
                    "--json",
                    "--publisher",
                    &s.publisher.vkey,
                ],
            )
        })
        .collect();
    for daemon in daemons {
        let log = daemon.stderr.clone();
        let (code, stdout) = daemon.wait(NODE_WAIT);
        let log = std::fs::read_to_string(log).unwrap();
        assert_eq!(code, Some(0), "the node failed:\n{log}");
        let jobs = &summary(&stdout)["jobs"];
        assert_eq!(jobs["done"], 2, "{stdout}\n{log}");
        assert_eq!(jobs["failed"], 0, "{stdout}\n{log}");
    }
    for (project, version, index) in [
        ("hello-c", "1.0.0", c_index),
        ("hello-rust", "0.1.0", rust_index),
    ] {
        let logged = s.attestations(project, version);
        assert_eq!(logged.len(), 2, "{project}: {logged:#?}");
        let mut rebuilt = Vec::new();
        for key in &nodes {
            let mine = by(&logged, key);
            assert_eq!(mine.len(), 1, "{project}: one attestation per node");
            let a = &mine[0].attestation;
            assert_eq!(
                a.predicate.result,
                RebuildResult::Reproduced,
                "{project} by {}: {:?}",
                key.vkey,
                a.predicate.detail
            );
            assert_eq!(a.predicate.release.log_index, index);
            assert_eq!(a.predicate.release.name, project);
            assert!(a.predicate.build_log.is_some(), "the build log is named");
            // Every published artifact rebuilt to the published digest.
            let mut got: Vec<_> = a
                .predicate
                .rebuilt
                .iter()
                .map(|r| (r.name.clone(), r.digest.sha256))
                .collect();
            let mut want: Vec<_> = a
                .subjects
                .iter()
                .map(|r| (r.name.clone(), r.digest.sha256))
                .collect();
            got.sort();
            want.sort();
            assert!(!want.is_empty());
            assert_eq!(got, want, "{project}: rebuilt digests");
            rebuilt.push(a.predicate.rebuilt.clone());
        }
        assert_eq!(
            rebuilt[0], rebuilt[1],
            "{project}: both nodes, same digests"
        );
    }
}

#[test]
fn a_node_killed_mid_job_finishes_every_release_exactly_once() {
    let s = setup();
    let c = prepare_fixture("hello-c", s.path());
    // A slow build, so that the kill lands inside it.
    let slow: &[&str] = &["sh", "-c", "sleep 3 && make dist"];
    let versions = ["2.0.0", "2.0.1", "2.0.2", "2.0.3"];
    let indices: Vec<u64> = versions
        .iter()
        .map(|v| {
            let m = variant(&c, v, Some(slow));
            publish(&m, &s.publisher, &s.server.url, &s.log_vkey)
        })
        .collect();
    // A release by a publisher the node does not follow.
    let stranger = generate_key(s.path(), "stranger");
    let foreign = variant(&c, "9.9.9", None);
    publish(&foreign, &stranger, &s.server.url, &s.log_vkey);
    let node = generate_key(s.path(), "node");
    let work = s.path().join("work");
    let only_publisher = ["--publisher", s.publisher.vkey.as_str()];

    // 1. One job at a time; SIGKILL while the second release builds.
    let mut daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &work,
        &[&["--jobs", "1"][..], &only_publisher].concat(),
    );
    daemon.wait_for_log("rebuilding hello-c@2.0.1", NODE_WAIT);
    // The job directory appears once the rebuild itself has begun (the build then sleeps).
    let job_dir = work.join("builds").join(format!("release-{}", indices[1]));
    for _ in 0..2000 {
        if job_dir.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(job_dir.exists(), "the second job did not start");
    let first_log = daemon.log();
    daemon.kill();
    assert!(first_log.contains("attested hello-c@2.0.0"), "{first_log}");
    assert!(first_log.contains("skipping release"), "{first_log}");
    assert_eq!(by(&s.attestations("hello-c", "2.0.0"), &node).len(), 1);
    assert!(
        s.attestations("hello-c", "2.0.1").is_empty(),
        "killed before the second attestation"
    );

    // 2. Restarted: finishes the interrupted job and the rest, redoes nothing.
    let daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &work,
        &[
            &["--jobs", "2", "--exit-when-idle", "--json"][..],
            &only_publisher,
        ]
        .concat(),
    );
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    let jobs = &summary(&stdout)["jobs"];
    assert_eq!(jobs["done"], 4, "{stdout}\n{log}");
    assert_eq!(jobs["failed"], 0, "{stdout}\n{log}");
    assert!(
        !log.contains("rebuilding hello-c@2.0.0"),
        "a done job was redone:\n{log}"
    );
    assert!(log.contains("rebuilding hello-c@2.0.1"), "{log}");
    for (version, index) in versions.iter().zip(&indices) {
        let logged = s.attestations("hello-c", version);
        assert_eq!(logged.len(), 1, "{version}: exactly once: {logged:#?}");
        let a = &by(&logged, &node)[0].attestation;
        assert_eq!(a.predicate.result, RebuildResult::Reproduced, "{version}");
        assert_eq!(a.predicate.release.log_index, *index);
    }
    assert!(s.attestations("hello-c", "9.9.9").is_empty());

    // 3. Restarted once more: nothing left to do, nothing appended.
    let size = s.log_size();
    let daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &work,
        &[&["--exit-when-idle"][..], &only_publisher].concat(),
    );
    let log = daemon.stderr.clone();
    let (code, _) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("rebuilding"), "{log}");
    assert_eq!(s.log_size(), size);

    // 4. The job table lost (a fresh work directory, same key): the node finds its own
    // attestations in the log and attests nothing twice.
    let daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &s.path().join("work-again"),
        &[
            &["--jobs", "2", "--exit-when-idle", "--json"][..],
            &only_publisher,
        ]
        .concat(),
    );
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(summary(&stdout)["jobs"]["done"], 4, "{stdout}");
    assert!(
        log.contains("already holds this node's attestation"),
        "{log}"
    );
    assert_eq!(s.log_size(), size, "nothing attested twice");
}

#[test]
fn an_unreachable_source_is_retried_with_backoff_then_attested_as_it_is() {
    let s = setup();
    let c = prepare_fixture("hello-c", s.path());
    let source = std::fs::read(c.with_file_name("dist").join("hello-c-1.0.0-src.tar.gz")).unwrap();
    // Two publishers, so that each node below takes one release.
    let other = generate_key(s.path(), "other-publisher");
    let [late, never] = free_ports(2)[..] else {
        unreachable!()
    };
    let comes_back = with_source_url(&c, "5.0.0", &format!("http://127.0.0.1:{late}/src.tar.gz"));
    let stays_away = with_source_url(&c, "5.0.1", &format!("http://127.0.0.1:{never}/src.tar.gz"));
    publish(&comes_back, &s.publisher, &s.server.url, &s.log_vkey);
    publish(&stays_away, &other, &s.server.url, &s.log_vkey);
    let node = generate_key(s.path(), "node");

    // The source server appears after the first failed attempt: the release is reproduced.
    let mut daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &s.path().join("work-1"),
        &[
            "--exit-when-idle",
            "--json",
            "--max-attempts",
            "10",
            "--publisher",
            &s.publisher.vkey,
        ],
    );
    daemon.wait_for_log("will retry", NODE_WAIT);
    serve_bytes(late, source);
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(summary(&stdout)["jobs"]["done"], 1, "{stdout}");
    let logged = s.attestations("hello-c", "5.0.0");
    assert_eq!(logged.len(), 1, "no attestation for the failed attempts");
    assert_eq!(
        logged[0].attestation.predicate.result,
        RebuildResult::Reproduced
    );

    // The source never comes back: after the last attempt the outcome is attested as it is.
    let daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &s.path().join("work-2"),
        &[
            "--exit-when-idle",
            "--json",
            "--max-attempts",
            "3",
            "--publisher",
            &other.vkey,
        ],
    );
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(summary(&stdout)["jobs"]["done"], 1, "{stdout}");
    assert_eq!(log.matches("will retry").count(), 2, "{log}");
    assert!(log.contains("attempt=3"), "{log}");
    let logged = s.attestations("hello-c", "5.0.1");
    assert_eq!(logged.len(), 1);
    let p = &logged[0].attestation.predicate;
    assert_eq!(p.result, RebuildResult::InputsUnavailable);
    assert!(
        p.detail
            .as_deref()
            .unwrap_or("")
            .contains(&never.to_string()),
        "{:?}",
        p.detail
    );
}

#[test]
fn sigterm_lets_the_running_job_finish_and_starts_no_other() {
    let s = setup();
    let c = prepare_fixture("hello-c", s.path());
    let slow: &[&str] = &["sh", "-c", "sleep 2 && make dist"];
    let first = publish(
        &variant(&c, "4.0.0", Some(slow)),
        &s.publisher,
        &s.server.url,
        &s.log_vkey,
    );
    publish(
        &variant(&c, "4.0.1", Some(slow)),
        &s.publisher,
        &s.server.url,
        &s.log_vkey,
    );
    let node = generate_key(s.path(), "node");
    let work = s.path().join("work");
    let mut daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &work,
        &["--jobs", "1", "--json"],
    );
    daemon.wait_for_log("rebuilding hello-c@4.0.0", NODE_WAIT);
    let job_dir = work.join("builds").join(format!("release-{first}"));
    for _ in 0..2000 {
        if job_dir.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.terminate(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    let jobs = &summary(&stdout)["jobs"];
    assert_eq!(jobs["done"], 1, "{stdout}\n{log}");
    assert_eq!(jobs["queued"], 1, "{stdout}\n{log}");
    assert!(!log.contains("rebuilding hello-c@4.0.1"), "{log}");
    assert_eq!(s.attestations("hello-c", "4.0.0").len(), 1);
    assert!(s.attestations("hello-c", "4.0.1").is_empty());
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate_key(dir.path(), "node");
    let log_vkey = init_log(&dir.path().join("log"));
    let work = dir.path().join("work");
    let (w, k) = (work.to_str().unwrap(), key.path.to_str().unwrap());
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let base = ["rebuilder", "run", "--ledger", "http://127.0.0.1:9"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--log-key", "not a key", "--key", k, "--work", w],
            "--log-key",
        ),
        (
            vec!["--log-key-file", missing, "--key", k, "--work", w],
            "--log-key-file",
        ),
        (
            vec!["--log-key", &log_vkey, "--key", missing, "--work", w],
            "private key",
        ),
        (
            vec![
                "--log-key",
                &log_vkey,
                "--key",
                k,
                "--work",
                w,
                "--publisher",
                "x",
            ],
            "--publisher",
        ),
        (
            vec![
                "--log-key",
                &log_vkey,
                "--key",
                k,
                "--work",
                w,
                "--jobs",
                "0",
            ],
            "--jobs",
        ),
        (
            vec![
                "--log-key",
                &log_vkey,
                "--key",
                k,
                "--work",
                w,
                "--poll-interval",
                "0",
            ],
            "--poll-interval",
        ),
        (
            vec![
                "--log-key",
                &log_vkey,
                "--key",
                k,
                "--work",
                w,
                "--retry-delay",
                "NaN",
            ],
            "--retry-delay",
        ),
        (
            vec!["--log-key", &log_vkey, "--key", &log_vkey, "--work", w],
            "private key",
        ),
        (vec!["--key", k, "--work", w], "--log-key"),
    ];
    for (args, want) in cases {
        let o = reprove(&[&base[..], &args].concat());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!work.exists(), "{args:?} created the work directory");
    }
}

#[test]
fn a_node_refuses_another_nodes_work_directory_and_a_log_it_cannot_verify() {
    let s = setup();
    let a = generate_key(s.path(), "node-a");
    let b = generate_key(s.path(), "node-b");
    let work = s.path().join("work");
    // An empty log: the node reads it to its end and stops.
    let daemon = Daemon::spawn(&s.server.url, &s.log_vkey, &a, &work, &["--exit-when-idle"]);
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.wait(NODE_WAIT);
    assert_eq!(code, Some(0), "{}", std::fs::read_to_string(log).unwrap());
    assert!(stdout.contains("0 done"), "{stdout}");

    // Another key in the same work directory.
    let daemon = Daemon::spawn(&s.server.url, &s.log_vkey, &b, &work, &["--exit-when-idle"]);
    let log = daemon.stderr.clone();
    let (code, _) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("belongs to node key"), "{log}");

    // A log key that did not sign the log's checkpoints: refused, nothing rebuilt.
    let c = prepare_fixture("hello-c", s.path());
    publish(&c, &s.publisher, &s.server.url, &s.log_vkey);
    let size = s.log_size();
    let daemon = Daemon::spawn(
        &s.server.url,
        &b.vkey,
        &b,
        &s.path().join("work-b"),
        &["--exit-when-idle"],
    );
    let log = daemon.stderr.clone();
    let (code, _) = daemon.wait(NODE_WAIT);
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("checkpoint"), "{log}");
    assert!(!log.contains("rebuilding"), "{log}");
    assert_eq!(s.log_size(), size);
}

/// The throughput benchmark of the issue: 50 small releases (versions of the C fixture),
/// one node with `--jobs 2` (`REPROVE_BENCH_JOBS=N` for another N). Prints releases per
/// minute; asserts only that all 50 were reproduced. Run:
/// `cargo test -p reprove --test rebuilder_daemon -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_50_small_releases_with_two_jobs() {
    const RELEASES: usize = 50;
    let s = setup();
    let c = prepare_fixture("hello-c", s.path());
    for i in 0..RELEASES {
        let m = variant(&c, &format!("3.0.{i}"), None);
        publish(&m, &s.publisher, &s.server.url, &s.log_vkey);
    }
    let node = generate_key(s.path(), "node");
    let jobs = std::env::var("REPROVE_BENCH_JOBS").unwrap_or_else(|_| "2".to_owned());
    let started = Instant::now();
    let daemon = Daemon::spawn(
        &s.server.url,
        &s.log_vkey,
        &node,
        &s.path().join("work"),
        &["--jobs", &jobs, "--exit-when-idle", "--json"],
    );
    let log = daemon.stderr.clone();
    let (code, stdout) = daemon.wait(Duration::from_secs(1800));
    let wall = started.elapsed();
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(code, Some(0), "{log}");
    let summary = summary(&stdout);
    assert_eq!(summary["jobs"]["done"], RELEASES, "{stdout}");
    for i in 0..RELEASES {
        let logged = s.attestations("hello-c", &format!("3.0.{i}"));
        assert_eq!(logged.len(), 1);
        assert_eq!(
            logged[0].attestation.predicate.result,
            RebuildResult::Reproduced
        );
    }
    let secs = summary["elapsed_secs"].as_f64().unwrap();
    println!(
        "rebuilder throughput: {RELEASES} releases with --jobs {jobs} in {secs:.1} s \
         ({:.1} releases/minute; {:.1} s wall including process start)",
        RELEASES as f64 * 60.0 / secs,
        wall.as_secs_f64()
    );
}
