//! Every way `POST /add` refuses a submission: the status, a JSON body that says what is
//! wrong, and that nothing was written.

use crate::common::http;
use crate::common::signed;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Server, raw, request};
use reprove_ledger::HttpConfig;
use reprove_verifier::statement::PAYLOAD_TYPE;
use signed::{digest, publisher, release, stranger};

/// What is sent, with which extra headers, and the refusal expected: status and a phrase
/// of the error message.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);

/// `body` with `Content-Type: application/json` unless `headers` name another one.
async fn post(server: &Server, headers: &[(&str, &str)], body: &[u8]) -> http::Response {
    let mut all = headers.to_vec();
    if !all.iter().any(|(n, _)| *n == "Content-Type") {
        all.push(("Content-Type", "application/json"));
    }
    request(server.addr, "POST", "/add", &all, Some(body)).await
}

/// A signed envelope whose JSON is edited by `edit`.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let body = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_what_is_wrong_and_write_nothing() {
    let server = Server::start(HttpConfig::default()).await;
    let key = publisher();
    let vkey = key.vkey();
    let valid = key.sign(&release("hello", "1.0", &[digest(1)]));
    let other_payload = release("hello", "2.0", &[digest(2)]).encode();
    let statement = |predicate_type: &str, predicate: serde_json::Value| {
        serde_json::to_vec(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "a", "digest": {"sha256": hex::encode(digest(1))}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        }))
        .unwrap()
    };
    let mut release_json: serde_json::Value =
        serde_json::from_slice(&release("hello", "1.0", &[digest(1)]).encode()).unwrap();
    release_json["predicate"]["surprise"] = true.into();

    let cases: Vec<Case> = vec![
        (
            "declared too large",
            vec![],
            vec![b' '; 65_537],
            413,
            "limit of 65535 bytes",
        ),
        (
            "wrong media type",
            vec![("Content-Type", "text/plain")],
            valid.clone(),
            415,
            "application/json",
        ),
        (
            "two media types",
            vec![
                ("Content-Type", "application/json"),
                ("Content-Type", "text/plain"),
            ],
            valid.clone(),
            415,
            "application/json",
        ),
        (
            "compressed",
            vec![("Content-Encoding", "gzip")],
            valid.clone(),
            415,
            "Content-Encoding",
        ),
        (
            "not JSON",
            vec![],
            b"hello".to_vec(),
            400,
            "not a DSSE envelope",
        ),
        (
            "JSON but no envelope",
            vec![],
            br#"{"payload": "aGk="}"#.to_vec(),
            400,
            "not a DSSE envelope",
        ),
        (
            "no signatures",
            vec![],
            edited(|v| v["signatures"] = serde_json::json!([])),
            400,
            "no signatures",
        ),
        (
            "payload type",
            vec![],
            key.sign_as(&vkey, "text/plain", &other_payload),
            400,
            "payloadType \"text/plain\" is not supported",
        ),
        (
            "keyid is not a vkey",
            vec![],
            key.sign_as("publisher", PAYLOAD_TYPE, &other_payload),
            403,
            "keyid must be the signer's",
        ),
        (
            "keyid names another key",
            vec![],
            key.sign_as(&stranger().vkey(), PAYLOAD_TYPE, &other_payload),
            403,
            "no signature verifies",
        ),
        (
            "too many signatures (each would cost a verification)",
            vec![],
            edited(|v| {
                let one = v["signatures"][0].clone();
                v["signatures"] = serde_json::Value::Array(vec![one; 9]);
            }),
            400,
            "at most 8 are accepted",
        ),
        (
            "payload swapped under the signature",
            vec![],
            edited(|v| v["payload"] = STANDARD.encode(&other_payload).into()),
            403,
            "no signature verifies",
        ),
        (
            "not a statement",
            vec![],
            key.sign_as(&vkey, PAYLOAD_TYPE, b"{}"),
            400,
            "not a reprove entry",
        ),
        (
            "unknown predicate type",
            vec![],
            key.sign_as(
                &vkey,
                PAYLOAD_TYPE,
                &statement("https://slsa.dev/provenance/v1", serde_json::json!({})),
            ),
            400,
            "unknown predicate type",
        ),
        (
            "predicate with an unknown field",
            vec![],
            key.sign_as(
                &vkey,
                PAYLOAD_TYPE,
                &serde_json::to_vec(&release_json).unwrap(),
            ),
            400,
            "surprise",
        ),
    ];
    for (what, headers, body, status, needle) in cases {
        let r = post(&server, &headers, &body).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        r.assert_error(status, needle);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(server.size(), 0, "{what} wrote something");
    }

    // No Content-Type at all.
    let r = request(server.addr, "POST", "/add", &[], Some(&valid)).await;
    r.assert_error(415, "application/json");

    // A body larger than the limit without a Content-Length: refused as it streams in.
    let mut chunked = b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for _ in 0..12 {
        chunked.extend_from_slice(b"2000\r\n");
        chunked.extend_from_slice(&[b' '; 0x2000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    raw(server.addr, &chunked)
        .await
        .assert_error(413, "limit of 65535 bytes");

    // A Content-Length that promises too much is refused before the body is sent.
    let head = b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
        Content-Length: 1000000000\r\nConnection: close\r\n\r\n";
    raw(server.addr, head)
        .await
        .assert_error(413, "limit of 65535 bytes");

    assert_eq!(server.size(), 0);
    let r = post(&server, &[], &valid).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["index"], 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_size_limit_counts_the_body_exactly() {
    let body = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    let limit = body.len();
    let config = HttpConfig {
        max_entry_bytes: limit - 1,
        ..HttpConfig::default()
    };
    let server = Server::start(config).await;
    let needle = format!("limit of {} bytes", limit - 1);
    post(&server, &[], &body).await.assert_error(413, &needle);
    server.stop().await;

    let config = HttpConfig {
        max_entry_bytes: limit,
        ..HttpConfig::default()
    };
    let server = Server::start(config).await;
    assert_eq!(post(&server, &[], &body).await.status, 200);
    server.stop().await;
}
