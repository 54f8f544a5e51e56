#!/usr/bin/env bash
# Staged releases' file path, as recorded in the README: one SIZE_MIB artifact uploaded into a set
# (`reprove release upload`, streamed and signed) and downloaded from the ledger (the set URL and
# the release URL share one code path: the blob streamed and re-hashed as it goes), side by side
# in one run with the disk's own sequential write (dd, fdatasync) and `python3 -m http.server`
# serving the same file; with the peak RSS of the client and of the server.
#
#   scripts/bench-staged.sh WORK_DIR [SIZE_MIB]
#
# Loopback only. REPROVE_BIN picks the binary (default: the debug build, whose dependencies —
# sha2, hyper, tokio — are built optimised).
set -euo pipefail

work=${1:?usage: bench-staged.sh WORK_DIR [SIZE_MIB]}
size=${2:-1024}
bin=$(realpath "${REPROVE_BIN:-${CARGO_TARGET_DIR:-target}/debug/reprove}")
port=${PORT:-18700}
url="http://127.0.0.1:$port"
mkdir -p "$work"
cd "$work"
rm -rf log keys art.bin dd.bin dl.bin py
peak() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
mib_s() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

head -c $((size << 20)) /dev/urandom >art.bin
bytes=$(stat -c %s art.bin)
sync
t0=$(now); dd if=art.bin of=dd.bin bs=1M conv=fdatasync status=none; t1=$(now)
dd_w=$(secs "$t0" "$t1")
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(now); dd if=dd.bin of=/dev/null bs=1M status=none; t1=$(now)
dd_r=$(secs "$t0" "$t1")
rm -f dd.bin

"$bin" ledger init --data log --origin bench.example/staged >/dev/null
"$bin" key generate --name pub.example --out keys >/dev/null
"$bin" ledger serve --data log --listen "127.0.0.1:$port" --max-artifact-bytes $((64 << 30)) \
  >serve.out 2>serve.err &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; kill $py 2>/dev/null || true' EXIT
py=
for _ in $(seq 1 300); do grep -q listening serve.out 2>/dev/null && break; sleep 0.1; done
key=keys/pub.example.key
"$bin" release plan bench@1 --key "$key" --ledger "$url" --json >plan.json
set_url=$(python3 -c 'import json,sys; print(json.load(open("plan.json"))["set_url"])')

t0=$(now)
"$bin" release upload bench@1 art.bin --key "$key" --ledger "$url" --json >upload.json &
client=$!
client_peak=0
while kill -0 $client 2>/dev/null; do
  p=$(peak $client 2>/dev/null || echo 0); [ "${p:-0}" -gt "$client_peak" ] && client_peak=$p
  sleep 0.05
done
wait $client
t1=$(now)
up=$(secs "$t0" "$t1")
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(now); curl -fsS -o /dev/null "${set_url}art.bin"; t1=$(now)
down=$(secs "$t0" "$t1")
server_peak=$(peak $server)

mkdir py && ln art.bin py/art.bin
python3 -m http.server "$((port + 1))" --bind 127.0.0.1 --directory py >/dev/null 2>&1 &
py=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$((port + 1))/" 2>/dev/null && break; sleep 0.1; done
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(now); curl -fsS -o /dev/null "http://127.0.0.1:$((port + 1))/art.bin"; t1=$(now)
pydown=$(secs "$t0" "$t1")

echo "| what | seconds | MiB/s | peak RSS |"
echo "| --- | --- | --- | --- |"
echo "| disk: dd write + fdatasync, $size MiB | $dd_w | $(mib_s "$bytes" "$dd_w") | |"
echo "| disk: dd read (cold cache) | $dd_r | $(mib_s "$bytes" "$dd_r") | |"
echo "| reprove release upload (hash, sign, stream; server streams to the blob store, hashes, fsyncs) | $up | $(mib_s "$bytes" "$up") | client $((client_peak / 1024)) MiB, server $((server_peak / 1024)) MiB |"
echo "| ledger download, set URL (cold cache; streamed, re-hashed) | $down | $(mib_s "$bytes" "$down") | |"
echo "| python3 -m http.server, same file (cold cache) | $pydown | $(mib_s "$bytes" "$pydown") | |"
