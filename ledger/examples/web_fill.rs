//! Fills a log with realistic signed entries for the web page benchmark: per release, one
//! manifest and two rebuild attestations by two rebuilders (2 % mismatches), and now and
//! then a revocation notice. Entries go through the same checks and index derivation as
//! `POST /add` (`derive_index_keys`), straight to the writer, in rounds. Run by hand:
//!
//! ```text
//! reprove ledger init --data /tmp/weblog --origin bench.example/log
//! cargo run -p reprove-ledger --example web_fill -- /tmp/weblog 1000000
//! reprove ledger serve --data /tmp/weblog --listen 127.0.0.1:8080
//! reprove bench web --url http://127.0.0.1:8080
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use reprove_ledger::derive_index_keys;
use reprove_ledger::{Ledger, Submission};
use reprove_testkit::{
    Key, entry, rebuild_attestation, release_manifest, release_ref, revocation_notice, sha256,
};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{
    Artifact, Digests, Entry, EntryKind, RebuildResult, ReleaseManifest, RevocationReason, Source,
};

fn digest(tag: &str, n: u64) -> [u8; 32] {
    sha256(format!("{tag}/{n}").as_bytes())
}

/// Release `n`: one artifact, downloadable, built from a source archive.
fn manifest(n: u64) -> ReleaseManifest {
    let name = format!("pkg-{n}.tar.gz");
    let subjects = vec![Artifact {
        name: name.clone(),
        digest: Digests::sha256(digest("artifact", n)),
    }];
    let project = format!("project-{}", n % 50_000);
    let mut m = release_manifest(&project, &format!("1.{}", n / 50_000), subjects);
    m.predicate.artifacts = BTreeMap::from([(
        name.clone(),
        format!("https://downloads.example.org/{name}"),
    )]);
    m.predicate.source = Source::Archive {
        uri: format!("https://example.org/src/{n}.tar.gz"),
        digest: Digests::sha256(digest("source", n)),
    };
    m.predicate.recipe.outputs = BTreeMap::from([(format!("out/{name}"), name)]);
    m
}

fn release(n: u64) -> Entry {
    entry(EntryKind::Release(manifest(n)))
}

/// A rebuild of release `n` logged at `index`: reproduced, or a mismatch with a diff report.
fn rebuild(n: u64, index: u64, release_bytes: &[u8], mismatch: bool, day: u64) -> Entry {
    let m = manifest(n);
    let p = &m.predicate;
    let release = release_ref(&p.project, &p.version, index, sha256(release_bytes));
    let mut att = rebuild_attestation(release, m.subjects.clone());
    let q = &mut att.predicate;
    if mismatch {
        let mut other = m.subjects[0].clone();
        other.digest = Digests::sha256(digest("other", n));
        q.result = RebuildResult::Mismatch;
        q.rebuilt = vec![other];
        q.diff_report = Some(Digests::sha256(digest("diff", n)));
    }
    q.build_log = Some(Digests::sha256(digest("log", n)));
    // Days 20400..20430 (late 2025), spread over the log.
    let date = format!("2025-{:02}-{:02}", 11 + day / 30, 1 + day % 28);
    q.started_on = format!("{date}T10:00:00Z");
    q.finished_on = format!("{date}T10:05:00Z");
    entry(EntryKind::Rebuild(att))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(total)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: web_fill <log dir made by `reprove ledger init`> <entries>");
        std::process::exit(2);
    };
    let dir = std::path::Path::new(dir);
    let key = std::fs::read_to_string(dir.join("log.key")).expect("read log.key");
    let signer = NoteSigner::from_private_key(key.trim()).expect("parse log.key");
    let (ledger, mut writer) = Ledger::open(dir, signer).expect("open the log");
    let publisher = Key::new("publisher.example.org", 1);
    let rebuilders = [
        Key::new("rebuilder-a.example.org", 2),
        Key::new("rebuilder-b.example.net", 3),
    ];
    let started = Instant::now();
    let mut next = ledger.head().size();
    let mut n = next;
    let mut round: Vec<Submission> = Vec::new();
    let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
    while next < total {
        // A release, then (in the next round, once its index is known) its two rebuilds.
        let bytes = publisher.sign(&release(n));
        pending.push((n, bytes.clone()));
        round.push(Submission::new(bytes.clone(), derive_index_keys(&bytes)));
        n += 1;
        if round.len() >= 1024 || next + round.len() as u64 >= total {
            let accepted = writer.append(&round).expect("append");
            next = accepted.last().map_or(next, |a| a.index + 1);
            round.clear();
            // The releases' rebuilds, now that their indices are known.
            let mut rebuild_round = Vec::new();
            for ((k, release_bytes), a) in pending.drain(..).zip(accepted) {
                for (r, key) in rebuilders.iter().enumerate() {
                    if next + rebuild_round.len() as u64 >= total {
                        break;
                    }
                    let mismatch = r == 1 && k % 50 == 0;
                    let e = key.sign(&rebuild(k, a.index, &release_bytes, mismatch, k % 30));
                    rebuild_round.push(Submission::new(e.clone(), derive_index_keys(&e)));
                }
                if k % 100_000 == 99_999 && next + (rebuild_round.len() as u64) < total {
                    let old = Key::new(&format!("old-{k}.example.org"), 9);
                    let mut notice = revocation_notice(&old.verifier(), RevocationReason::Retired);
                    notice.comment = Some("retired".into());
                    let e = old.sign(&entry(EntryKind::Revocation(notice)));
                    rebuild_round.push(Submission::new(e.clone(), derive_index_keys(&e)));
                }
            }
            if !rebuild_round.is_empty() {
                let accepted = writer.append(&rebuild_round).expect("append");
                next = accepted.last().map_or(next, |a| a.index + 1);
            }
            eprint!(
                "\r{next} entries ({:.0}/s)   ",
                next as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "\ndone: {next} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
