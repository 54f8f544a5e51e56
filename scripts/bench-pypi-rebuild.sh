#!/usr/bin/env bash
# The end-to-end cost of rebuilding one PyPI wheel with reprove against a bare `pip wheel` of
# the same sdist in the same environment (host python3, the same pinned backend on PYTHONPATH),
# both on a warm toolchain cache. Uses the files `make setup` fetched (tomli 2.2.1, flit_core
# 3.10.1), served from 127.0.0.1 as a PEP 503 index; a private ledger on 127.0.0.1.
#
#   scripts/bench-pypi-rebuild.sh [RUNS]      (default 7; prints each side's median and the ratio)
#
# reprove's side is `reprove rebuild --release tomli@2.2.1 --submit`: fetch the sdist and the
# published wheel (loopback), check digests, take the cached toolchain root, build in bubblewrap,
# hash, compare, sign, upload the build log and log the attestation. pip's side is
# `python3 -m pip wheel --no-deps --no-build-isolation --no-index SDIST`.
set -euo pipefail
runs=${1:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
R=${REPROVE:-${CARGO_TARGET_DIR:-$here/target}/debug/reprove}
cache=${REPROVE_FIXTURE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reprove/fixtures}/pypi
[ -f "$cache/tomli-2.2.1.tar.gz" ] || { echo "run make setup first" >&2; exit 2; }
w=$(mktemp -d /tmp/reprove-bench-pypi.XXXXXX)
chmod 755 "$w"   # a node running as root builds as nobody, who must reach the work directory
mkdir -p "$w/index/simple/tomli" "$w/index/simple/flit-core" "$w/index/files"
cp "$cache"/*.whl "$cache"/*.tar.gz "$w/index/files/"
link() { echo "<a href=\"../../files/$1#sha256=$(sha256sum "$w/index/files/$1" | cut -d' ' -f1)\">$1</a><br>"; }
{ link tomli-2.2.1.tar.gz; link tomli-2.2.1-py3-none-any.whl; } >"$w/index/simple/tomli/index.html"
link flit_core-3.10.1-py3-none-any.whl >"$w/index/simple/flit-core/index.html"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$w/index" >/dev/null 2>&1 &
http_pid=$!
"$R" ledger init --data "$w/ledger" --origin bench.reprove.test >/dev/null 2>&1
"$R" key generate --name importer.bench --out "$w/keys" >/dev/null 2>&1
"$R" key generate --name rebuilder.bench --out "$w/keys" >/dev/null 2>&1
"$R" ledger serve --data "$w/ledger" --listen 127.0.0.1:0 --batch-max-age 20 >"$w/ledger.out" 2>/dev/null &
ledger_pid=$!
trap 'kill $http_pid $ledger_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do url=$(sed -n 's/^listening on //p' "$w/ledger.out"); [ -n "$url" ] && break; sleep 0.1; done
sleep 0.3
"$R" import pypi tomli==2.2.1 --index "http://127.0.0.1:$port/simple" --key "$w/keys/importer.bench.key" \
  --ledger "$url" --log-key-file "$w/ledger/log.pub" >/dev/null
"$R" import pypi tomli==2.2.1 --index "http://127.0.0.1:$port/simple" --key "$w/keys/importer.bench.key" \
  --dry-run >"$w/import.dsse.json"
rebuild() { "$R" rebuild --release tomli@2.2.1 --ledger "$url" --log-key-file "$w/ledger/log.pub" \
  --key "$w/keys/rebuilder.bench.key" --work "$w/node" --submit --json >"$w/last.json"; }
rebuild || true  # warms the toolchain cache
grep -q '"result":"reproduced"' "$w/last.json" || { cat "$w/last.json"; exit 1; }
deps=$(ls -d "$w"/node/toolchains/*/ | head -n1)
pipwheel() { rm -rf "$w/pip-out"; PYTHONPATH=$deps /usr/bin/python3 -m pip wheel -q --no-deps --no-build-isolation \
  --no-index -w "$w/pip-out" "$w/index/files/tomli-2.2.1.tar.gz" >/dev/null 2>&1; }
pipwheel
# The least a build can cost: the recipe's own PEP 517 call, unsandboxed, on an unpacked sdist.
script=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["command"][3])' \
  <(python3 -c 'import json,base64,sys; e=json.load(open(sys.argv[1])); print(json.dumps(json.loads(base64.b64decode(e["payload"]))["predicate"]["recipe"]))' "$w/import.dsse.json"))
pep517() { rm -rf "$w/src"; mkdir "$w/src"; tar xzf "$w/index/files/tomli-2.2.1.tar.gz" -C "$w/src";
  (cd "$w"/src/*/ && umask 022 && PYTHONPATH=$deps /usr/bin/python3 -S -c "$script" "$w/pep517-out" >/dev/null); }
pep517
timeit() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); python3 -c "print(float('$e')-float('$s'))"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=(); p=(); b=()
for _ in $(seq "$runs"); do r+=("$(timeit rebuild)"); p+=("$(timeit pipwheel)"); b+=("$(timeit pep517)"); done
rm_=$(printf '%s\n' "${r[@]}" | median); pm=$(printf '%s\n' "${p[@]}" | median); bm=$(printf '%s\n' "${b[@]}" | median)
python3 - "$rm_" "$pm" "$bm" "$runs" <<'PY'
import sys
r, p, b, n = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
print(f"reprove rebuild (end to end, warm toolchain): median {r:.3f} s of {n}")
print(f"bare pip wheel of the same sdist:            median {p:.3f} s of {n}")
print(f"bare PEP 517 build_wheel (unpack + build):   median {b:.3f} s of {n}")
print(f"ratio to pip wheel: {r/p:.2f}x; to the bare PEP 517 call: {r/b:.2f}x")
PY
rm -rf "$w" && echo "cleaned $w" >/dev/null
