//! `POST /add` over a real socket: accepted entries (all three kinds) with their proofs and
//! lookup keys, duplicates, pushback, concurrent submitters, and the allow-list.

use crate::common;
use crate::common::http;
use crate::common::signed;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use http::{Response, Server, request};
use reprove_ledger::{HttpConfig, ManualClock, SequencerConfig};
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::proof::TlogProof;
use signed::{digest, publisher, rebuild, rebuilder, release, revocation, sign_twice, stranger};

/// Checks a 200 answer the way a submitter would, and returns `(index, duplicate)`.
fn accepted(entry: &[u8], response: &Response) -> (u64, bool) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    let v = response.json();
    let index = v["index"].as_u64().unwrap();
    let duplicate = v["duplicate"].as_bool().unwrap();
    let proof = TlogProof::parse(v["proof"].as_str().unwrap().as_bytes()).unwrap();
    let verified = proof
        .verify(entry, &common::key(), &WitnessPolicy::none())
        .unwrap();
    assert_eq!(verified.index(), index);
    (index, duplicate)
}

/// The indices a lookup answers (one page, asserting there is no next one).
async fn lookup(server: &Server, path: &str) -> Vec<u64> {
    let r = server.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert!(v["next"].is_null(), "{path}: {v}");
    v["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_every_kind_are_logged_with_proofs_and_lookup_keys() {
    let server = Server::start(HttpConfig::default()).await;
    let (publisher, rebuilder) = (publisher(), rebuilder());
    let (d1, d2) = (digest(1), digest(2));

    let release = publisher.sign(&release("hello", "1.0", &[d1, d2]));
    assert_eq!(accepted(&release, &server.add(&release).await), (0, false));
    // The logged entry is the body, byte for byte.
    assert_eq!(server.get("/entry/0").await.body, release);

    let rebuild = rebuilder.sign(&rebuild("hello", "1.0", 0, &[d1, d2]));
    assert_eq!(accepted(&rebuild, &server.add(&rebuild).await), (1, false));

    let notice = revocation(&rebuilder.verifier());
    let revoked_subject = notice.subjects()[0].digest.sha256;
    let notice = rebuilder.sign(&notice);
    assert_eq!(accepted(&notice, &server.add(&notice).await), (2, false));
    assert_eq!(server.size(), 3);

    for (path, want) in [
        (format!("/lookup/sha256/{}", hex::encode(d1)), vec![0, 1]),
        (format!("/lookup/sha256/{}", hex::encode(d2)), vec![0, 1]),
        (
            format!("/lookup/sha256/{}", hex::encode(revoked_subject)),
            vec![2],
        ),
        (format!("/lookup/sha256/{}", hex::encode(digest(3))), vec![]),
        (format!("/lookup/key/{}", publisher.vkey()), vec![0]),
        (
            format!("/lookup/key/{}", hex::encode(rebuilder.vkey())),
            vec![1, 2],
        ),
        (
            format!("/lookup/key/{:08x}", rebuilder.verifier().key_id()),
            vec![1, 2],
        ),
        (
            format!("/lookup/revocations/{:08x}", rebuilder.verifier().key_id()),
            vec![2],
        ),
        ("/lookup/release/hello/1.0".to_owned(), vec![0, 1]),
        ("/lookup/release/hello/1.1".to_owned(), vec![]),
        ("/lookup/revocations".to_owned(), vec![2]),
        (format!("/lookup/revocations/{}", rebuilder.vkey()), vec![2]),
        (format!("/lookup/revocations/{}", publisher.vkey()), vec![]),
    ] {
        assert_eq!(lookup(&server, &path).await, want, "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_envelope_is_logged_as_sent_and_a_resubmission_is_a_duplicate() {
    let server = Server::start(HttpConfig::default()).await;
    let signed = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    // Same envelope, other JSON spelling: a different entry, logged exactly as sent.
    let value: serde_json::Value = serde_json::from_slice(&signed).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();

    assert_eq!(accepted(&signed, &server.add(&signed).await), (0, false));
    assert_eq!(accepted(&pretty, &server.add(&pretty).await), (1, false));
    assert_eq!(server.get("/entry/1").await.body, pretty);
    for _ in 0..2 {
        assert_eq!(accepted(&signed, &server.add(&signed).await), (0, true));
        assert_eq!(accepted(&pretty, &server.add(&pretty).await), (1, true));
    }
    assert_eq!(server.size(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_get_distinct_indices_and_valid_proofs() {
    let server = Arc::new(Server::start(HttpConfig::default()).await);
    let key = Arc::new(publisher());
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let (server, key) = (server.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            // Every fourth submitter sends the same entry as the one before it.
            let n = if i % 4 == 3 { i - 1 } else { i };
            let body = key.sign(&release("hello", &format!("1.{n}"), &[digest(n)]));
            let r = server.add(&body).await;
            (n, accepted(&body, &r))
        }));
    }
    let mut by_entry = std::collections::BTreeMap::new();
    for t in tasks {
        let (n, (index, _)) = t.await.unwrap();
        // Both submitters of a doubled entry got the same index.
        assert_eq!(*by_entry.entry(n).or_insert(index), index);
    }
    let mut indices: Vec<u64> = by_entry.values().copied().collect();
    indices.sort();
    assert_eq!(indices, (0..36).collect::<Vec<_>>());
    assert_eq!(server.size(), 36);
    Arc::into_inner(server).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_pushes_back_with_retry_after_and_writes_nothing() {
    let (dir, ledger, writer) = common::new_log();
    let clock = Arc::new(ManualClock::new());
    let config = SequencerConfig {
        batch_max_age: Duration::from_millis(100),
        batch_max_size: 10,
        pool_capacity: 1,
    };
    let server = Arc::new(
        Server::start_with(
            dir,
            ledger,
            writer,
            config,
            clock.clone(),
            HttpConfig::default(),
        )
        .await,
    );
    let first = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    let waiting = {
        let (server, first) = (server.clone(), first.clone());
        tokio::spawn(async move { server.add(&first).await })
    };
    // Wait until the first submission holds the pool's only place.
    wait_until(|| server.seq.in_pool() == 1).await;

    let second = publisher().sign(&release("hello", "2.0", &[digest(2)]));
    let r = server.add(&second).await;
    r.assert_error(503, "pool is full");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["retry_after"], 1);
    assert_eq!(server.size(), 0);

    clock.advance(Duration::from_millis(100));
    let r = waiting.await.unwrap();
    assert_eq!(accepted(&first, &r), (0, false));
    assert_eq!(server.size(), 1);
    Arc::into_inner(server).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_sequencer_refuses_without_saying_why() {
    let server = Server::start(HttpConfig::default()).await;
    server.seq.shutdown().await.unwrap();
    let body = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    let r = server.add(&body).await;
    r.assert_error(503, "not accepting submissions");
    assert!(r.header("retry-after").is_none());
    assert_eq!(server.size(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_admits_only_its_signers() {
    let config = HttpConfig {
        allow_keys: Some(vec![publisher().verifier()]),
        ..HttpConfig::default()
    };
    let server = Server::start(config).await;
    let entry = release("hello", "1.0", &[digest(1)]);

    let theirs = stranger().sign(&entry);
    server
        .add(&theirs)
        .await
        .assert_error(403, "signer not allowed");
    assert_eq!(server.size(), 0);

    // A stranger's co-signature neither hides the allowed signer nor is refused.
    let both = sign_twice(&stranger(), &publisher(), &entry);
    assert_eq!(accepted(&both, &server.add(&both).await), (0, false));
    let ours = publisher().sign(&entry);
    assert_eq!(accepted(&ours, &server.add(&ours).await), (1, false));
    // Every key that signed is indexed.
    let path = format!("/lookup/key/{}", stranger().vkey());
    assert_eq!(lookup(&server, &path).await, [0]);
    let path = format!("/lookup/key/{}", publisher().vkey());
    assert_eq!(lookup(&server, &path).await, [0, 1]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitter_that_hangs_up_while_waiting_is_still_logged_and_counted() {
    let (dir, ledger, writer) = common::new_log();
    let clock = Arc::new(ManualClock::new());
    let config = SequencerConfig {
        batch_max_age: Duration::from_millis(100),
        ..SequencerConfig::default()
    };
    let server = Server::start_with(
        dir,
        ledger,
        writer,
        config,
        clock.clone(),
        HttpConfig::default(),
    )
    .await;
    let body = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    let head = format!(
        "POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    // Hang up once the submission waits in the pool for its round.
    wait_until(|| server.seq.in_pool() == 1).await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(20)).await;
    clock.advance(Duration::from_millis(100));
    wait_until(|| server.size() == 1).await;

    // The task went on without the client: its answer was counted.
    let counted = "reprove_ledger_submissions_total{result=\"new\"} 1\n";
    let mut metrics = String::new();
    for _ in 0..500 {
        metrics = server.get("/metrics").await.text().to_owned();
        if metrics.contains(counted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(metrics.contains(counted), "{metrics}");

    let again = tokio::spawn({
        let (addr, body) = (server.addr, body.clone());
        let headers = [("Content-Type", "application/json")];
        async move { request(addr, "POST", "/add", &headers, Some(&body)).await }
    });
    wait_until(|| server.seq.in_pool() == 1).await;
    clock.advance(Duration::from_millis(100));
    assert_eq!(accepted(&body, &again.await.unwrap()), (0, true));
    server.stop().await;
}

/// Polls `done` every 2 ms, for at most 2 s.
async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(done(), "the condition did not become true in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_release_is_indexed_by_every_subject() {
    let server = Server::start(HttpConfig::default()).await;
    let digests: Vec<[u8; 32]> = (0..200).map(digest).collect();
    let entry = release("big", "1.0", &digests);
    let body = publisher().sign(&entry);
    assert!(body.len() < 65_535, "{}", body.len());
    assert_eq!(accepted(&body, &server.add(&body).await), (0, false));
    let path = format!("/lookup/sha256/{}", hex::encode(digest(199)));
    assert_eq!(lookup(&server, &path).await, [0]);
    // Media type parameters do not matter.
    let r = request(
        server.addr,
        "POST",
        "/add",
        &[("Content-Type", "application/json; charset=utf-8")],
        Some(&body),
    )
    .await;
    assert_eq!(accepted(&body, &r), (0, true));
    server.stop().await;
}
