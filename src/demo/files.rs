//! The demo's download server: a directory served over HTTP on 127.0.0.1, as a publisher's
//! web server would serve its source archives and artifacts. Rebuilders fetch a logged
//! release's inputs only from `https://` (or `http://` on loopback), never from a path on
//! their own machine, so the demo needs one.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Serves the files under `root` (GET only; no `..`, no symlinks) from a thread that lives as
/// long as the demo. Returns the server's URL.
pub fn serve_dir(root: &Path) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = answer(conn, &root);
            });
        }
    });
    Ok(url)
}

fn answer(mut conn: TcpStream, root: &Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    let mut reader = BufReader::new(conn.try_clone()?);
    reader.read_line(&mut line)?;
    // The rest of the head, up to the blank line (bounded).
    let mut header = String::new();
    for _ in 0..100 {
        header.clear();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let file = (method == "GET").then(|| resolve(root, target)).flatten();
    match file.and_then(|f| std::fs::File::open(f).ok()) {
        Some(mut f) => {
            let len = f.metadata()?.len();
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            )?;
            std::io::copy(&mut f, &mut conn)?;
        }
        None => write!(
            conn,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    conn.flush()
}

/// The regular file under `root` that a request target names, refusing `..`, empty
/// components and symlinks.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('?').next()?.trim_start_matches('/');
    let mut at = root.to_path_buf();
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        at.push(part);
        if std::fs::symlink_metadata(&at)
            .ok()?
            .file_type()
            .is_symlink()
        {
            return None;
        }
    }
    std::fs::metadata(&at).ok()?.is_file().then_some(at)
}
