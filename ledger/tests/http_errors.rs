//! Malformed and out-of-range requests: bad paths, numbers with other spellings, traversal
//! attempts, unknown routes and methods, proofs and lookups outside the tree. Each gets a
//! 4xx with a JSON body that says what is wrong, and the server keeps serving.

use crate::common;
use crate::common::http;

use common::{fill, new_log};
use http::{Server, request};

/// A log of 10 entries, with checkpoints signed at 5 and 10.
async fn served() -> Server {
    let (dir, ledger, mut writer) = new_log();
    fill(&mut writer, 0, 10, 5);
    Server::serve_log(dir, ledger, writer).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_missing_things_are_refused_clearly() {
    let server = served().await;
    let long_name = "n".repeat(1025);
    let bad_tile = "invalid tile path";
    let cases: Vec<(&str, String, u16, &str)> = vec![
        // Tiles: only the canonical c2sp spelling, nothing around it.
        ("GET", "/tile/../..".into(), 400, bad_tile),
        (
            "GET",
            "/tile/%2e%2e/%2e%2e/checkpoint".into(),
            400,
            bad_tile,
        ),
        ("GET", "/tile/0/..%2f..%2fetc".into(), 400, bad_tile),
        ("GET", "/tile/0/000/../000".into(), 400, bad_tile),
        ("GET", "/tile/00/000".into(), 400, "level"),
        ("GET", "/tile/64/000".into(), 400, "level"),
        ("GET", "/tile/-1/000".into(), 400, "level"),
        ("GET", "/tile/0/0".into(), 400, bad_tile),
        ("GET", "/tile/0/%30%30%30".into(), 400, bad_tile),
        ("GET", "/tile/0/000.p/0".into(), 400, bad_tile),
        ("GET", "/tile/0/000.p/256".into(), 400, bad_tile),
        ("GET", "/tile/0/000.p/010".into(), 400, bad_tile),
        ("GET", "/tile/0/x000/001".into(), 400, bad_tile),
        (
            "GET",
            "/tile/0/x018/x446/x744/x073/x709/x551/616".into(),
            400,
            bad_tile,
        ),
        ("GET", "/tile/0/000/".into(), 400, bad_tile),
        ("GET", "/tile/entries/000.p/".into(), 400, bad_tile),
        ("GET", "/tile/data/000".into(), 400, bad_tile),
        ("GET", "/tile/8/0/000".into(), 400, bad_tile),
        // Tiles and bundles the tree does not have.
        ("GET", "/tile/0/000".into(), 404, "no tile tile/0/000"),
        ("GET", "/tile/0/000.p/11".into(), 404, "no tile"),
        ("GET", "/tile/0/001.p/1".into(), 404, "no tile"),
        ("GET", "/tile/1/000.p/1".into(), 404, "no tile"),
        ("GET", "/tile/entries/000".into(), 404, "no entry bundle"),
        (
            "GET",
            "/tile/entries/000.p/11".into(),
            404,
            "no entry bundle",
        ),
        (
            "GET",
            "/tile/entries/x018/x446/x744/x073/x709/x551/615".into(),
            404,
            "no entry bundle",
        ),
        // Entries.
        ("GET", "/entry/10".into(), 404, "no entry 10"),
        ("GET", "/entry/01".into(), 400, "leading zeros"),
        ("GET", "/entry/-1".into(), 400, "entry index"),
        ("GET", "/entry/+1".into(), 400, "entry index"),
        ("GET", "/entry/18446744073709551616".into(), 400, "64 bits"),
        ("GET", "/entry/abc".into(), 400, "entry index"),
        ("GET", "/entry/%FF".into(), 400, "invalid path"),
        // Inclusion proofs.
        (
            "GET",
            "/proof/0?size=11".into(),
            404,
            "larger than the log's 10",
        ),
        ("GET", "/proof/10".into(), 400, "outside a tree of size 10"),
        (
            "GET",
            "/proof/5?size=5".into(),
            400,
            "outside a tree of size 5",
        ),
        (
            "GET",
            "/proof/0?size=3".into(),
            404,
            "no checkpoint was signed for tree size 3",
        ),
        ("GET", "/proof/0?size=05".into(), 400, "size"),
        ("GET", "/proof/0?size=".into(), 400, "size"),
        (
            "GET",
            "/proof/0?sz=5".into(),
            400,
            "unknown query parameter",
        ),
        ("GET", "/proof/0?size=5&size=10".into(), 400, "twice"),
        ("GET", "/proof/x".into(), 400, "entry index"),
        // Consistency proofs.
        ("GET", "/consistency".into(), 400, "old="),
        (
            "GET",
            "/consistency?old=7&new=5".into(),
            400,
            "a log cannot shrink",
        ),
        (
            "GET",
            "/consistency?old=11".into(),
            400,
            "a log cannot shrink",
        ),
        (
            "GET",
            "/consistency?old=1&new=11".into(),
            404,
            "larger than the log's 10",
        ),
        ("GET", "/consistency?old=1&new=-1".into(), 400, "new"),
        ("GET", "/consistency?old=0x1".into(), 400, "old"),
        // Lookups.
        (
            "GET",
            "/lookup/sha256/abc".into(),
            400,
            "not a sha256 digest",
        ),
        (
            "GET",
            format!("/lookup/sha256/{}", "z".repeat(64)),
            400,
            "not a sha256",
        ),
        (
            "GET",
            format!("/lookup/sha256/{}", "a".repeat(66)),
            400,
            "not a sha256",
        ),
        (
            "GET",
            "/lookup/key/nobody".into(),
            400,
            "is not a key ID (8 lowercase hex) or a note verifier key",
        ),
        (
            "GET",
            "/lookup/key/abcd".into(),
            400,
            "is not a key ID (8 lowercase hex) or a note verifier key",
        ),
        (
            "GET",
            "/lookup/revocations/a+b+c".into(),
            400,
            "is not a key ID (8 lowercase hex) or a note verifier key",
        ),
        (
            "GET",
            "/lookup/revocations?limit=0".into(),
            400,
            "at least 1",
        ),
        ("GET", "/lookup/release/a/1?after=-1".into(), 400, "after"),
        (
            "GET",
            "/lookup/release/a/1?order=sideways".into(),
            400,
            "asc",
        ),
        (
            "GET",
            "/lookup/release/a/1?page=2".into(),
            400,
            "unknown query parameter",
        ),
        (
            "GET",
            format!("/lookup/release/{long_name}/1"),
            400,
            "index key is 1025 bytes",
        ),
        // Routes and methods.
        // `/` is the home page (web pages), so unknown paths are what 404 here.
        ("GET", "/nope".into(), 404, "no such endpoint: GET /nope"),
        ("GET", "/checkpoint/extra".into(), 404, "no such endpoint"),
        ("GET", "/lookup/sha256".into(), 404, "no such endpoint"),
        ("GET", "/lookup/release/a".into(), 404, "no such endpoint"),
        (
            "POST",
            "/checkpoint".into(),
            405,
            "POST is not allowed on /checkpoint",
        ),
        ("GET", "/add".into(), 405, "GET is not allowed on /add"),
        ("DELETE", "/tile/0/000".into(), 405, "not allowed"),
    ];
    for (method, path, status, needle) in &cases {
        let r = request(server.addr, method, path, &[], None).await;
        assert_eq!(
            r.status,
            *status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.assert_error(*status, needle);
        if *status == 405 {
            assert!(r.header("allow").is_some(), "{method} {path}: no Allow");
        }
    }
    let r = request(server.addr, "GET", "/add", &[], None).await;
    assert_eq!(r.header("allow"), Some("POST"));
    // What the tree does have is served, including narrower prefixes of partial tiles.
    for path in [
        "/tile/0/000.p/10",
        "/tile/0/000.p/3",
        "/tile/entries/000.p/5",
    ] {
        assert_eq!(server.get(path).await.status, 200, "{path}");
    }
    assert_eq!(server.get("/checkpoint").await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_wire_does_not_take_the_server_down() {
    let server = served().await;
    for garbage in [
        &b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"GET /tile/0/000.p/5\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    ] {
        let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (mut rd, mut wr) = stream.into_split();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = wr.write_all(garbage).await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            rd.read_to_end(&mut answer),
        )
        .await;
        assert!(read.is_ok(), "no answer or close for {garbage:?}");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("HTTP/1.1 4"),
            "{garbage:?}: {text}"
        );
    }
    assert_eq!(server.get("/checkpoint").await.status, 200);
    server.stop().await;
}
