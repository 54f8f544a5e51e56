#!/usr/bin/env bash
# Installs the system packages reprove needs to build and test, on Debian 12 (bookworm) or later.
# Idempotent: does nothing when everything is present. As root it runs apt-get itself; otherwise it
# prints the exact command to run and exits non-zero.
set -euo pipefail

# libclang-dev + clang: bindgen for librocksdb-sys.  g++/make/pkg-config: the RocksDB C++ build.
# bubblewrap: the rebuilder's sandbox. chromium: the headless browser that tests the web pages.
# util-linux (prlimit): memory limits for sandboxed builds, set from outside. faketime: the
# clock variation of `reprove rebuild --variations`. curl: scripts/bench-ledger.sh reads the
# checkpoint with it. procps (pgrep): the fork-bomb test checks nothing is left running.
# diffoscope: the rebuilder's diff reports (run sandboxed), and the tests that check them.
PACKAGES=(build-essential pkg-config clang libclang-dev bubblewrap ca-certificates curl git util-linux procps chromium faketime diffoscope)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: run as root:  sudo sh -c '$cmd'" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. reprove needs Rust >= 1.89 (rustup.rs); Debian's own rustc is too old." >&2
  exit 1
fi
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n' 1.89.0 "$have" | sort -V | head -n1)" != 1.89.0 ]; then
  echo "setup: rustc $have is too old; reprove needs Rust >= 1.89" >&2
  exit 1
fi
echo "setup: ok (rustc $have; ${PACKAGES[*]} present)"
