//! The HTTP tests' harness: a ledger served on 127.0.0.1 (port 0) by the real router and
//! `serve`, and a tiny HTTP/1.1 client over `tokio::net::TcpStream` that sends exactly the
//! bytes it is given (so malformed paths reach the server unchanged).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reprove_ledger::http::{HttpConfig, router, serve};
use reprove_ledger::{Clock, Ledger, Sequencer, SequencerConfig, TokioClock, Writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any one request may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A served ledger.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub ledger: Arc<Ledger>,
    pub seq: Arc<Sequencer>,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Rounds every 5 ms: tests wait little for answers.
pub fn fast_rounds() -> SequencerConfig {
    SequencerConfig {
        batch_max_age: Duration::from_millis(5),
        ..SequencerConfig::default()
    }
}

impl Server {
    /// A new, empty log served with `config`.
    pub async fn start(config: HttpConfig) -> Server {
        let (dir, ledger, writer) = crate::common::new_log();
        Server::start_with(
            dir,
            ledger,
            writer,
            fast_rounds(),
            Arc::new(TokioClock),
            config,
        )
        .await
    }

    /// An opened (possibly pre-filled) log, served with fast rounds and the default config.
    pub async fn serve_log(dir: tempfile::TempDir, ledger: Ledger, writer: Writer) -> Server {
        Server::start_with(
            dir,
            ledger,
            writer,
            fast_rounds(),
            Arc::new(TokioClock),
            HttpConfig::default(),
        )
        .await
    }

    /// Serves an opened log whose writer goes to a sequencer with `seq` and `clock`.
    pub async fn start_with(
        dir: tempfile::TempDir,
        ledger: Ledger,
        writer: Writer,
        seq: SequencerConfig,
        clock: Arc<dyn Clock>,
        config: HttpConfig,
    ) -> Server {
        let seq = Arc::new(Sequencer::start(writer, seq, clock).unwrap());
        let ledger = Arc::new(ledger);
        let app = router(ledger.clone(), seq.clone(), config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Server {
            dir,
            ledger,
            seq,
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops serving (graceful), then shuts the sequencer down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(TIMEOUT, task)
                .await
                .expect("serve did not return after shutdown")
                .unwrap()
                .unwrap();
        }
        self.seq.shutdown().await.unwrap();
    }

    /// The log's tree size.
    pub fn size(&self) -> u64 {
        self.ledger.head().size()
    }

    pub async fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], None).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers, None).await
    }

    /// `POST /add` with `Content-Type: application/json`.
    pub async fn add(&self, body: &[u8]) -> Response {
        let headers = [("Content-Type", "application/json")];
        request(self.addr, "POST", "/add", &headers, Some(body)).await
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: body {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a JSON refusal: `status`, `{"error": "..."}` containing `needle`.
    pub fn assert_error(&self, status: u16, needle: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let error = self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", self.text()))
            .to_owned();
        assert!(
            error.contains(needle),
            "error {error:?} does not mention {needle:?}"
        );
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    raw(addr, &bytes).await
}

/// Sends `bytes` as they are and parses the answer. The write runs alongside the read, and
/// its errors are ignored: a server may answer (and close) before reading everything.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let bytes = bytes.to_vec();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        let _ = wr.flush().await;
        // Keep the write half open until the server answers; dropping it would half-close.
        wr
    });
    let mut answer = Vec::new();
    tokio::time::timeout(TIMEOUT, rd.read_to_end(&mut answer))
        .await
        .expect("the server did not answer in time")
        .unwrap();
    drop(writer.await);
    parse_response(&answer)
}

fn parse_response(bytes: &[u8]) -> Response {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let rest = &bytes[end + 4..];
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    response.body = if response
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)
    } else {
        if let Some(len) = response.header("content-length") {
            assert_eq!(len.parse::<usize>().unwrap(), rest.len(), "Content-Length");
        }
        rest.to_vec()
    };
    response
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&rest[..line_end]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
