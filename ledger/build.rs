//! Stops the build, with what to do, when the RocksDB it would link is not the one the bindings
//! are made from.
//!
//! `.cargo/config.toml` sets `ROCKSDB_LIB_DIR`: librocksdb-sys then links the installed
//! librocksdb (Debian 12's librocksdb-dev, 7.8.3) instead of compiling its bundled RocksDB 7.9.2
//! (ARCHITECTURE.md, "rocksdb"). Its Rust bindings are generated from the *bundled* `c.h` either
//! way, so a library with another C API would link and then be called with wrong signatures, or
//! fail at the final link with a list of undefined symbols. This compares the installed
//! `rocksdb/c.h` with the bundled one, comments and whitespace aside, before anything links.
//! `ROCKSDB_COMPILE=1` (the bundled build) and `ROCKSDB_INCLUDE_DIR` (bindings made from the
//! installed header itself) need no check.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;

fn main() {
    for var in ["ROCKSDB_COMPILE", "ROCKSDB_LIB_DIR", "ROCKSDB_INCLUDE_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let compile =
        env::var("ROCKSDB_COMPILE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let Ok(lib_dir) = env::var("ROCKSDB_LIB_DIR") else {
        return;
    };
    if compile || env::var_os("ROCKSDB_INCLUDE_DIR").is_some() {
        return;
    }
    let Some(bundled_dir) = env::var_os("DEP_ROCKSDB_CARGO_MANIFEST_DIR") else {
        fail("librocksdb-sys did not say where its sources are (DEP_ROCKSDB_CARGO_MANIFEST_DIR)");
    };
    let bundled = PathBuf::from(bundled_dir).join("rocksdb/include/rocksdb");
    let candidates = [
        Path::new(&lib_dir).join("../include"),
        PathBuf::from("/usr/include"),
        PathBuf::from("/usr/local/include"),
    ];
    let Some(installed) = candidates
        .iter()
        .map(|dir| dir.join("rocksdb"))
        .find(|dir| dir.join("c.h").is_file())
    else {
        fail(&format!(
            "ROCKSDB_LIB_DIR={lib_dir} (.cargo/config.toml) links an installed RocksDB, and none \
             is installed (no rocksdb/c.h in /usr/include or /usr/local/include)"
        ));
    };
    println!("cargo:rerun-if-changed={}", installed.join("c.h").display());
    let want = c_api(&bundled.join("c.h"));
    let have = c_api(&installed.join("c.h"));
    if want != have {
        fail(&format!(
            "the installed RocksDB ({}, version {}) has another C API than RocksDB {}, which \
             librocksdb-sys's bindings are made from; linking it would call it with wrong \
             signatures",
            installed.display(),
            version(&installed),
            version(&bundled),
        ));
    }
    if env::var("PROFILE").as_deref() == Ok("release") {
        println!(
            "cargo:warning=this release build links the installed RocksDB; Debian's keeps its \
             assertions and costs the ledger about 30 % of its appends/s. For a log server or \
             a benchmark build RocksDB here: ROCKSDB_COMPILE=1 (ARCHITECTURE.md, \"rocksdb\")"
        );
    }
}

/// A C header without its comments and whitespace: two headers that declare the same functions
/// with the same signatures are equal, however they are laid out.
fn c_api(path: &Path) -> String {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else {
            let mut chars = rest.chars();
            let c = chars.next().unwrap_or_default();
            if !c.is_whitespace() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
}

/// "MAJOR.MINOR.PATCH" from a RocksDB `version.h`, or "unknown".
fn version(include: &Path) -> String {
    let text = fs::read_to_string(include.join("version.h")).unwrap_or_default();
    let part = |name: &str| {
        text.lines().find_map(|line| {
            line.strip_prefix("#define ")?
                .strip_prefix(name)?
                .trim()
                .parse::<u32>()
                .ok()
        })
    };
    match (
        part("ROCKSDB_MAJOR"),
        part("ROCKSDB_MINOR"),
        part("ROCKSDB_PATCH"),
    ) {
        (Some(a), Some(b), Some(c)) => format!("{a}.{b}.{c}"),
        _ => "unknown".to_owned(),
    }
}

fn fail(why: &str) -> ! {
    eprintln!(
        "error: {why}.\n\
         \n\
         Either install Debian's librocksdb-dev 7.8 (`make setup` does: `apt-get install \
         librocksdb-dev` on Debian 12),\n\
         or compile the bundled RocksDB 7.9.2 instead (about 15 minutes on 2 cores):\n\
         \n    ROCKSDB_COMPILE=1 cargo build\n\
         \n\
         (`make` does that by itself when no RocksDB 7.8/7.9 is installed; ARCHITECTURE.md, \"rocksdb\".)"
    );
    exit(1);
}
