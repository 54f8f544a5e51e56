#!/usr/bin/env bash
# Installs the system packages reprove needs to build and test, on Debian 12 (bookworm) or later.
# Idempotent: does nothing when everything is present. As root it runs apt-get itself; otherwise it
# prints the exact command to run and exits non-zero.
set -euo pipefail

# librocksdb-dev: the ledger's storage, Debian 12's RocksDB 7.8.3, linked instead of compiling
# RocksDB's C++ (.cargo/config.toml; ARCHITECTURE.md, "rocksdb"). libclang-dev: bindgen for
# librocksdb-sys. clang, g++, make, pkg-config: the C parts (lz4, mimalloc), and RocksDB's C++
# where no compatible librocksdb-dev exists (the bundled build, scripts/rocksdb-env.sh).
# bubblewrap: the rebuilder's sandbox. chromium: the headless browser that tests the web pages.
# util-linux (prlimit): memory limits for sandboxed builds, set from outside. faketime: the
# clock variation of `reprove rebuild --variations`. curl: scripts/bench-ledger.sh reads the
# checkpoint with it. procps (pgrep): the fork-bomb test checks nothing is left running.
# diffoscope: the rebuilder's diff reports (run sandboxed), and the tests that check them.
# python3: the toolchain of PyPI wheel rebuilds (the host's /usr; Debian 12's python3).
# gpgv + debian-archive-keyring: `import debian` checks a suite's InRelease signature with them.
# xz-utils, bzip2: `import debian` decompresses Sources.xz, Packages.xz, .tar.xz and .tar.bz2 with
# the host's xz and bzip2.
#
# `setup.sh --demo` (what `make demo` runs) installs only what building and the demo need and
# fetches no test fixtures: a newcomer's first `make demo` should not wait for a browser, for
# diffoscope's dependencies or for 135 MB of Debian fixtures it never reads.
DEMO_PACKAGES=(build-essential pkg-config clang libclang-dev librocksdb-dev bubblewrap ca-certificates util-linux procps)
PACKAGES=("${DEMO_PACKAGES[@]}" curl git chromium faketime diffoscope python3)
PACKAGES+=(gpgv debian-archive-keyring xz-utils bzip2)
demo_only=false
case "${1:-}" in
  --demo) demo_only=true; PACKAGES=("${DEMO_PACKAGES[@]}") ;;
  "") ;;
  *) echo "usage: setup.sh [--demo]" >&2; exit 2 ;;
esac

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

if $demo_only; then
  echo "setup: ok for the demo (rustc $have; ${PACKAGES[*]} present)"
  exit 0
fi

# Real PyPI files for the import test (tests/import_pypi.rs), fetched once into a cache outside
# the clone and pinned by sha256; the test serves them from 127.0.0.1 as a simple index.
cache=${REPROVE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprove/fixtures}/pypi
mkdir -p "$cache"
fetch_pinned() {  # URL SHA256 FILE
  local file="$cache/$3"
  if [ -f "$file" ] && echo "$2  $file" | sha256sum -c --status; then return 0; fi
  echo "setup: fetching $3"
  curl -fsSL --retry 3 --max-time 300 -o "$file.part" "$1"
  if ! echo "$2  $file.part" | sha256sum -c --status; then
    rm -f "$file.part"
    echo "setup: $3 from $1 does not have sha256 $2" >&2
    exit 1
  fi
  mv "$file.part" "$file"
}
fetch_pinned https://files.pythonhosted.org/packages/18/87/302344fed471e44a87289cf4967697d07e532f2421fdaf868a303cbae4ff/tomli-2.2.1.tar.gz \
  cd45e1dc79c835ce60f7404ec8119f2eb06d38b1deba146f07ced3bbc44505ff tomli-2.2.1.tar.gz
fetch_pinned https://files.pythonhosted.org/packages/6e/c2/61d3e0f47e2b74ef40a68b9e6ad5984f6241a942f7cd3bbfbdbd03861ea9/tomli-2.2.1-py3-none-any.whl \
  cb55c73c5f4408779d0cf3eef9f762b9c9f147a77de7b258bef0a5628adc85cc tomli-2.2.1-py3-none-any.whl
fetch_pinned https://files.pythonhosted.org/packages/be/2d/293fe6a58e73df57cc2b5e5cf2b17c6bb4fb5b0c390bab8f1e87bdc62529/flit_core-3.10.1-py3-none-any.whl \
  cb31a76e8b31ad3351bb89e531f64ef2b05d1e65bd939183250bf81ddf4922a8 flit_core-3.10.1-py3-none-any.whl
# six 1.17.0 was built without SOURCE_DATE_EPOCH: its dist-info files carry the publisher's
# wall clock (2024-12-04 17:35:24), which the import reads back as the build's clock
# (tests/import_pypi.rs); its backend is setuptools 75.6.0 (the wheel's Generator: line).
fetch_pinned https://files.pythonhosted.org/packages/94/e7/b2c673351809dca68a0e064b6af791aa332cf192da575fd474ed7d6f16a2/six-1.17.0.tar.gz \
  ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81 six-1.17.0.tar.gz
fetch_pinned https://files.pythonhosted.org/packages/b7/ce/149a00dd41f10bc29e5921b496af8b574d8413afcd5e30dfa0ed46c2cc5e/six-1.17.0-py2.py3-none-any.whl \
  4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274 six-1.17.0-py2.py3-none-any.whl
fetch_pinned https://files.pythonhosted.org/packages/55/21/47d163f615df1d30c094f6c8bbb353619274edccf0327b185cc2493c2c33/setuptools-75.6.0-py3-none-any.whl \
  ce74b49e8f7110f9bf04883b730f4765b774ef3ef28f722cce7c273d253aaf7d setuptools-75.6.0-py3-none-any.whl

# Real crates for the crate import test (tests/import_crate.rs): fortune 0.2.0, a binary crate
# with a Cargo.lock and no dependencies, and cfg-if 1.0.0, the real dependency of the test's
# own small crate (so vendoring a pinned .crate is exercised); served from 127.0.0.1 as a
# sparse registry.
pypi_cache=$cache
cache=${REPROVE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprove/fixtures}/crates
mkdir -p "$cache"
fetch_pinned https://static.crates.io/crates/fortune/fortune-0.2.0.crate \
  4ce04b8199e8adcab8275f63a016b5f1d2b5ee137a2f663fbfd38508e5ce3470 fortune-0.2.0.crate
fetch_pinned https://static.crates.io/crates/cfg-if/cfg-if-1.0.0.crate \
  baf1de4339761588bc0619e3cbc0120ee582ebb74b53b4efbf79117bd2da40fd cfg-if-1.0.0.crate
crates_cache=$cache

# Real Debian archive files for the import test (tests/import_debian.rs): bookworm's signed
# InRelease (12.15), its Sources.xz and Packages.xz (by hash), and the source package tree
# 2.1.0-1 with its amd64 .deb, and the .debs of its build root; about 135 MB. The test serves
# them from 127.0.0.1 as a mirror.
# When bookworm's next point release replaces the InRelease, these pins are updated with it.
cache=${REPROVE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprove/fixtures}/debian
mkdir -p "$cache"
deb=https://deb.debian.org/debian
fetch_pinned $deb/dists/bookworm/InRelease \
  77737fa4b34f2693e982cc9ee35736816c35a7778fc2d326cc1bbf5b301fe1aa InRelease
fetch_pinned $deb/dists/bookworm/main/source/by-hash/SHA256/92d11a035571df011f06f28c61cb9825130ef1d92abb2f2e0525e8674dc44af8 \
  92d11a035571df011f06f28c61cb9825130ef1d92abb2f2e0525e8674dc44af8 Sources.xz
fetch_pinned $deb/dists/bookworm/main/binary-amd64/by-hash/SHA256/9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5 \
  9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5 Packages.xz
fetch_pinned $deb/pool/main/t/tree/tree_2.1.0-1.dsc \
  57da9be8a9c455077bae9e4909fab01cc62b25dbdea64042b4afbc403d599410 tree_2.1.0-1.dsc
fetch_pinned $deb/pool/main/t/tree/tree_2.1.0.orig.tar.gz \
  0160c535bff2b0dc6a830b9944e981e3427380f63e748da96ced7071faebabf6 tree_2.1.0.orig.tar.gz
fetch_pinned $deb/pool/main/t/tree/tree_2.1.0-1.debian.tar.xz \
  0ae973a28a78f2cb490d98d92897d1582ef9aac7ecd61cae91a6fdb0fea61db6 tree_2.1.0-1.debian.tar.xz
fetch_pinned $deb/pool/main/t/tree/tree_2.1.0-1_amd64.deb \
  4c0dc6088e801285717bae2a98a7672f1e4d2eed4e918355987bc6617a8f490b tree_2.1.0-1_amd64.deb
# The build root `import debian tree=2.1.0-1` pins from that Packages.xz (the list is the
# importer's own answer): each .deb's URL and sha256 come from the pinned Packages.xz.
mkdir -p "$cache/debs"
while read -r url sha file; do
  fetch_pinned "$url" "$sha" "debs/$file"
done < <(xz -dc "$cache/Packages.xz" | python3 -c '
import sys
want = {tuple(l.split()) for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")}
for st in sys.stdin.read().split("\n\n"):
    f = dict(l.split(": ", 1) for l in st.splitlines() if ": " in l and not l.startswith(" "))
    if (f.get("Package"), f.get("Version")) in want:
        print(sys.argv[2] + "/" + f["Filename"], f["SHA256"], f["Filename"].rsplit("/", 1)[1])
' "$(dirname "$0")/debian-fixture-root.txt" "$deb")
echo "setup: ok (rustc $have; ${PACKAGES[*]} present; fixtures in $pypi_cache, $crates_cache and $cache)"
