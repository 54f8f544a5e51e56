//! `PUT /blobs/sha256/<hex>` and `GET /blobs/sha256/<hex>` over a real socket: the round
//! trip, idempotent re-uploads, and every refusal with its status and message, each leaving
//! the store untouched. A blob goes in only when a logged attestation by its uploader names
//! it (or the uploader is allow-listed), within the uploader's quota.

use crate::common::http;
use crate::common::signed;

use http::{Response, Server, raw, request};
use reprove_ledger::{HttpConfig, blob_path};
use reprove_verifier::blob::BlobSignature;
use reprove_verifier::note::NoteSigner;
use sha2::{Digest, Sha256};
use signed::{Key, publisher, rebuild_with_log, rebuilder, stranger};

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn path_of(digest: &[u8; 32]) -> String {
    format!("/blobs/sha256/{}", hex::encode(digest))
}

/// The header value `signer` sends to upload `size` bytes named `digest`.
fn signature(signer: &NoteSigner, digest: &[u8; 32], size: u64) -> String {
    BlobSignature::sign(signer, digest, size).encode()
}

/// `PUT` of `body` under `digest`, signed by `key` for `digest` and the body's size.
async fn put_as(server: &Server, key: &Key, digest: &[u8; 32], body: &[u8]) -> Response {
    let sig = signature(&key.note, digest, body.len() as u64);
    let headers = [("Reprove-Signature", sig.as_str())];
    request(server.addr, "PUT", &path_of(digest), &headers, Some(body)).await
}

/// `PUT` of `body` under its own digest, signed by the rebuilder, after logging a rebuilder's
/// attestation that names it.
async fn put(server: &Server, body: &[u8]) -> Response {
    name(server, &rebuilder(), body).await;
    put_as(server, &rebuilder(), &sha256(body), body).await
}

/// Logs an attestation by `key` whose build log is `body`.
async fn name(server: &Server, key: &Key, body: &[u8]) {
    let r = server.add(&key.sign(&rebuild_with_log(sha256(body)))).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Asserts that the store holds no blob at all: no file under `blobs/sha256`.
fn assert_store_empty(server: &Server) {
    let dir = server.dir.path().join("blobs").join("sha256");
    let files = walk(&dir);
    assert!(files.is_empty(), "the store holds {files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_stored(r: &Response, status: u16, body: &[u8], created: bool) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["sha256"], hex::encode(sha256(body)));
    assert_eq!(v["size"], body.len() as u64);
    assert_eq!(v["created"], created);
    assert_eq!(r.header("location"), Some(path_of(&sha256(body)).as_str()));
}

#[tokio::test]
async fn a_blob_round_trips_and_a_second_upload_changes_nothing() {
    let server = Server::start(HttpConfig::default()).await;
    let log = b"step 1\nstep 2: ok\n".to_vec();
    let digest = sha256(&log);

    assert_stored(&put(&server, &log).await, 201, &log, true);
    let file = blob_path(server.dir.path(), &digest);
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();

    let r = server.get(&path_of(&digest)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, log);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );

    // The same blob again, by another signer whose attestation names it: the same answer,
    // 200, nothing rewritten.
    name(&server, &publisher(), &log).await;
    assert_stored(
        &put_as(&server, &publisher(), &digest, &log).await,
        200,
        &log,
        false,
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written
    );
    assert_eq!(server.ledger.blob(&digest).unwrap().unwrap(), log);

    // Binary bytes are served as such.
    let binary = vec![0xff, 0x00, 0xfe, 0x80];
    assert_stored(&put(&server, &binary).await, 201, &binary, true);
    let r = server.get(&path_of(&sha256(&binary))).await;
    assert_eq!(r.body, binary);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));

    // An empty blob is a blob.
    assert_stored(&put(&server, b"").await, 201, b"", true);
    assert_eq!(server.get(&path_of(&sha256(b""))).await.body, b"");

    let metrics = server.get("/metrics").await;
    assert!(
        metrics
            .text()
            .contains("reprove_ledger_blob_uploads_total{result=\"new\"} 3"),
        "{}",
        metrics.text()
    );
    assert!(
        metrics
            .text()
            .contains("reprove_ledger_blob_uploads_total{result=\"existing\"} 1")
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_digests_are_refused_on_get() {
    let server = Server::start(HttpConfig::default()).await;
    server
        .get(&path_of(&sha256(b"never stored")))
        .await
        .assert_error(404, "the log has no blob");
    for bad in [
        "/blobs/sha256/abc",
        &format!("/blobs/sha256/{}", "AB".repeat(32)),
        &format!("/blobs/sha256/{}", "g".repeat(64)),
        &format!("/blobs/sha256/{}0", "a".repeat(64)),
    ] {
        server
            .get(bad)
            .await
            .assert_error(400, "is not a sha256 digest");
    }
    server
        .get("/blobs/sha512/00")
        .await
        .assert_error(404, "no such endpoint");
    server.stop().await;
}

#[tokio::test]
async fn every_refused_upload_stores_nothing() {
    let server = Server::start(HttpConfig {
        max_blob_bytes: 100,
        ..HttpConfig::default()
    })
    .await;
    let body = b"a build log".to_vec();
    let digest = sha256(&body);
    let size = body.len() as u64;
    let good = signature(&rebuilder().note, &digest, size);
    let path = path_of(&digest);

    // Not named by any logged entry of the uploader: refused before a byte is read.
    put_as(&server, &rebuilder(), &digest, &body)
        .await
        .assert_error(403, "log the attestation first");
    // Named, but by another key's attestation.
    name(&server, &stranger(), &body).await;
    put_as(&server, &rebuilder(), &digest, &body)
        .await
        .assert_error(403, "no logged entry signed by");
    name(&server, &rebuilder(), &body).await;

    // Malformed path.
    let sig_for_upper = [("Reprove-Signature", good.as_str())];
    let upper = format!("/blobs/sha256/{}", hex::encode_upper(digest));
    request(server.addr, "PUT", &upper, &sig_for_upper, Some(&body))
        .await
        .assert_error(400, "is not a sha256 digest");

    // Missing and malformed signature headers.
    request(server.addr, "PUT", &path, &[], Some(&body))
        .await
        .assert_error(400, "needs a Reprove-Signature header");
    for bad in [
        "nothing-here".to_owned(),
        format!("{} !!!", rebuilder().vkey()),
        format!("not+a+key {}", good.split_once(' ').unwrap().1),
    ] {
        let headers = [("Reprove-Signature", bad.as_str())];
        request(server.addr, "PUT", &path, &headers, Some(&body))
            .await
            .assert_error(400, "Reprove-Signature:");
    }

    // A signature for other bytes, for another size, or under a key other than the one named.
    let other = signature(&rebuilder().note, &sha256(b"other"), size);
    let wrong_size = signature(&rebuilder().note, &digest, size + 1);
    let by_stranger = signature(&stranger().note, &digest, size);
    let claimed = format!(
        "{} {}",
        rebuilder().vkey(),
        by_stranger.split_once(' ').unwrap().1
    );
    for bad in [other, wrong_size, claimed] {
        let headers = [("Reprove-Signature", bad.as_str())];
        request(server.addr, "PUT", &path, &headers, Some(&body))
            .await
            .assert_error(403, "does not verify");
    }

    // No Content-Length (chunked): the signature covers the size, so it must be declared.
    let chunked = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nReprove-Signature: {good}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        body.len()
    );
    let mut bytes = chunked.into_bytes();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(b"\r\n0\r\n\r\n");
    raw(server.addr, &bytes)
        .await
        .assert_error(411, "needs a Content-Length");

    // A content coding.
    let headers = [
        ("Reprove-Signature", good.as_str()),
        ("Content-Encoding", "gzip"),
    ];
    request(server.addr, "PUT", &path, &headers, Some(&body))
        .await
        .assert_error(415, "Content-Encoding");

    // Over the size cap: refused from the headers alone. The body is never sent, so an
    // answer proves the server did not wait to buffer it.
    let huge = 1u64 << 30;
    let sig = signature(&rebuilder().note, &digest, huge);
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nReprove-Signature: {sig}\r\n\
         Content-Length: {huge}\r\n\r\n"
    );
    raw(server.addr, head.as_bytes())
        .await
        .assert_error(413, "limit of 100 bytes");
    let big = vec![b'x'; 101];
    put(&server, &big).await.assert_error(413, "101 bytes");

    // The body is not the bytes the path names.
    let lie = b"another log".to_vec();
    let sig = signature(&rebuilder().note, &digest, lie.len() as u64);
    let headers = [("Reprove-Signature", sig.as_str())];
    request(server.addr, "PUT", &path, &headers, Some(&lie))
        .await
        .assert_error(422, "digest mismatch");

    // Other methods.
    request(server.addr, "POST", &path, &[], Some(&body))
        .await
        .assert_error(405, "not allowed");

    assert_store_empty(&server);
    server.get(&path).await.assert_error(404, "no blob");
    // A limit-sized blob still goes in.
    assert_stored(&put(&server, &[b'y'; 100]).await, 201, &[b'y'; 100], true);
    server.stop().await;
}

#[tokio::test]
async fn with_an_allow_list_only_its_keys_may_upload() {
    let server = Server::start(HttpConfig {
        allow_keys: Some(vec![rebuilder().verifier()]),
        ..HttpConfig::default()
    })
    .await;
    let body = b"diff report".to_vec();
    let digest = sha256(&body);
    put_as(&server, &stranger(), &digest, &body)
        .await
        .assert_error(403, "not on the log's allow-list");
    assert_store_empty(&server);
    assert_stored(
        &put_as(&server, &rebuilder(), &digest, &body).await,
        201,
        &body,
        true,
    );
    server.stop().await;
}

#[tokio::test]
async fn each_key_has_a_quota_and_uploads_at_once_are_bounded() {
    let server = Server::start(HttpConfig {
        max_blob_bytes_per_key: 25,
        max_blob_uploads: 1,
        ..HttpConfig::default()
    })
    .await;
    let (first, second, third) = (vec![b'a'; 10], vec![b'b'; 10], vec![b'c'; 10]);
    assert_stored(&put(&server, &first).await, 201, &first, true);
    assert_stored(&put(&server, &second).await, 201, &second, true);
    // 20 of 25 bytes used: 10 more pass the quota, and nothing of it is stored.
    put(&server, &third)
        .await
        .assert_error(403, "limit of 25 bytes per key");
    assert!(server.ledger.blob(&sha256(&third)).unwrap().is_none());
    // A blob the store holds costs nothing again.
    assert_stored(&put(&server, &first).await, 200, &first, false);
    // Another key has its own quota.
    name(&server, &publisher(), &third).await;
    assert_stored(
        &put_as(&server, &publisher(), &sha256(&third), &third).await,
        201,
        &third,
        true,
    );
    // The usage survives a restart of the handler state: it is on disk.
    let usage = server.dir.path().join("blobs").join("usage");
    assert_eq!(std::fs::read_dir(&usage).unwrap().count(), 2);

    // One upload at a time: while one is streaming (its body not yet complete), the next is
    // 503 with Retry-After, and storing nothing.
    let slow = vec![b's'; 20];
    name(&server, &stranger(), &slow).await;
    let sig = signature(&stranger().note, &sha256(&slow), 20);
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: x\r\nReprove-Signature: {sig}\r\nContent-Length: 20\r\n\r\nssss",
        path_of(&sha256(&slow))
    );
    let mut held = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut held, head.as_bytes())
        .await
        .unwrap();
    let mut busy = None;
    for _ in 0..100 {
        let r = put(&server, &[b'z'; 5]).await;
        if r.status == 503 {
            busy = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let busy = busy.expect("a second upload while one streams is 503");
    busy.assert_error(503, "as many blobs as it takes at once");
    assert_eq!(busy.header("retry-after"), Some("1"));
    drop(held);
    assert!(server.ledger.blob(&sha256(&slow)).unwrap().is_none());
    server.stop().await;
}
