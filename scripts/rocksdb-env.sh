#!/usr/bin/env bash
# What `make` adds to cargo's environment for RocksDB: `ROCKSDB_COMPILE=1` (compile the bundled
# RocksDB 7.9.2, about 15 minutes on 2 cores) when no RocksDB with its C API is installed,
# nothing when the installed one will be linked (.cargo/config.toml sets ROCKSDB_LIB_DIR;
# ledger/build.rs checks the installed C API token for token). A ROCKSDB_COMPILE or
# ROCKSDB_LIB_DIR the caller set stands.
set -euo pipefail
if [ -n "${ROCKSDB_COMPILE:-}" ] || [ -n "${ROCKSDB_LIB_DIR:-}" ]; then
  exit 0
fi
version=/usr/include/rocksdb/version.h
major=$(awk '$1 == "#define" && $2 == "ROCKSDB_MAJOR" { print $3 }' "$version" 2>/dev/null || true)
minor=$(awk '$1 == "#define" && $2 == "ROCKSDB_MINOR" { print $3 }' "$version" 2>/dev/null || true)
case "$major.$minor" in
  7.8 | 7.9) ;;
  *)
    echo "make: no RocksDB 7.8/7.9 installed${major:+ (found $major.$minor)}: compiling the bundled one (ROCKSDB_COMPILE=1)" >&2
    echo ROCKSDB_COMPILE=1
    ;;
esac
