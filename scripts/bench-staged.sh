#!/usr/bin/env bash
# Staged releases' file path, as recorded in the README: one SIZE_MIB artifact uploaded into a set
# (`reprove release upload`, streamed and signed) and downloaded from the ledger (the set URL and
# the release URL share one code path: the blob streamed and re-hashed as it goes), side by side
# in the same rounds with the disk's own sequential write and read (dd) and `python3 -m
# http.server` (sendfile) serving the same file; with the peak RSS of the client and of the
# server (and the server's before the upload: what the transfer itself costs).
#
#   scripts/bench-staged.sh WORK_DIR [SIZE_MIB] [ROUNDS]
#
# Each round starts a fresh ledger, so every upload really writes and fsyncs; the page cache is
# dropped before every cold read (the source of the upload included). The table gives each
# row's median over the rounds. Loopback only. REPROVE_BIN picks the binary (default: the
# debug build, whose dependencies — sha2, hyper, tokio — are built optimised).
set -euo pipefail

work=${1:?usage: bench-staged.sh WORK_DIR [SIZE_MIB] [ROUNDS]}
size=${2:-1024}
rounds=${3:-3}
bin=$(realpath "${REPROVE_BIN:-${CARGO_TARGET_DIR:-target}/debug/reprove}")
port=${PORT:-18700}
url="http://127.0.0.1:$port"
mkdir -p "$work"
cd "$work"
rm -rf log keys art.bin dd.bin py rounds.txt
rss() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

head -c $((size << 20)) /dev/urandom >art.bin
bytes=$(stat -c %s art.bin)
"$bin" key generate --name pub.example --out keys >/dev/null
key=keys/pub.example.key
mkdir py && ln art.bin py/art.bin
python3 -m http.server "$((port + 1))" --bind 127.0.0.1 --directory py >/dev/null 2>&1 &
py=$!
server=
trap 'kill $py 2>/dev/null || true; [ -n "$server" ] && kill -TERM $server 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$((port + 1))/" 2>/dev/null && break; sleep 0.1; done

for r in $(seq 1 "$rounds"); do
  drop
  t0=$(now); dd if=art.bin of=dd.bin bs=1M conv=fdatasync status=none; t1=$(now)
  dd_w=$(secs "$t0" "$t1")
  rm -f dd.bin

  rm -rf log
  "$bin" ledger init --data log --origin bench.example/staged >/dev/null
  "$bin" ledger serve --data log --listen "127.0.0.1:$port" --max-artifact-bytes $((64 << 30)) \
    >serve.out 2>serve.err &
  server=$!
  for _ in $(seq 1 300); do grep -q listening serve.out 2>/dev/null && break; sleep 0.1; done
  "$bin" release plan "bench@$r" --key "$key" --ledger "$url" --json >plan.json
  set_url=$(python3 -c 'import json; print(json.load(open("plan.json"))["set_url"])')
  server_before=$(rss $server VmHWM)

  drop
  t0=$(now)
  "$bin" release upload "bench@$r" art.bin --key "$key" --ledger "$url" --json >upload.json &
  client=$!
  client_peak=0
  while kill -0 $client 2>/dev/null; do
    p=$(rss $client VmHWM 2>/dev/null || echo 0); [ "${p:-0}" -gt "$client_peak" ] && client_peak=$p
    sleep 0.05
  done
  wait $client
  t1=$(now)
  up=$(secs "$t0" "$t1")
  # The three reads are of the stored blob itself, each from a cold page cache, after one
  # untimed read: this machine's disk sits on its host's cache, so a file's first read after
  # it was written and the reads after it run at different speeds; all three see the same.
  sum=$(python3 -c 'import json; print(json.load(open("upload.json"))["files"]["art.bin"]["sha256"])')
  blob="log/blobs/sha256/${sum:0:2}/$sum"
  drop; cat "$blob" >/dev/null
  drop
  t0=$(now); dd if="$blob" of=/dev/null bs=1M status=none; t1=$(now)
  dd_r=$(secs "$t0" "$t1")
  drop
  t0=$(now); curl -fsS -o /dev/null "${set_url}art.bin"; t1=$(now)
  down=$(secs "$t0" "$t1")
  server_peak=$(rss $server VmHWM)
  ln -f "$blob" py/art.bin
  drop
  t0=$(now); curl -fsS -o /dev/null "http://127.0.0.1:$((port + 1))/art.bin"; t1=$(now)
  pydown=$(secs "$t0" "$t1")
  kill -TERM $server; wait $server 2>/dev/null || true
  server=
  echo "$dd_w $dd_r $up $down $pydown $client_peak $server_before $server_peak" >>rounds.txt
done

python3 - "$bytes" "$size" "$rounds" <<'PY'
import statistics, sys
size_b, size_mib, rounds = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = [list(map(float, l.split())) for l in open("rounds.txt")]
col = lambda i: statistics.median(r[i] for r in rows)
rate = lambda s: size_b / 1048576 / s
dd_w, dd_r, up, down, py = (col(i) for i in range(5))
client, before, peak = (col(i) / 1024 for i in (5, 6, 7))
print(f"Median of {rounds} rounds, {size_mib} MiB; every timed read from a cold page cache.\n")
print("| what | seconds | MiB/s | against the disk | peak RSS |")
print("| --- | --- | --- | --- | --- |")
print(f"| disk: `dd` write + `fdatasync` | {dd_w:.2f} | {rate(dd_w):.0f} | | |")
print(f"| disk: `dd` read of the stored blob | {dd_r:.2f} | {rate(dd_r):.0f} | | |")
print(f"| `reprove release upload` (reads and hashes the file, signs, streams it; the ledger writes, hashes, fsyncs) | {up:.2f} | {rate(up):.0f} | {100 * dd_w / up:.0f} % of `dd` write | client {client:.0f} MiB; server {before:.0f} MiB before, {peak:.0f} MiB after upload and download |")
print(f"| ledger download from the set URL (streamed, re-hashed) | {down:.2f} | {rate(down):.0f} | {100 * dd_r / down:.0f} % of `dd` read, {100 * py / down:.0f} % of `http.server` | |")
print(f"| `python3 -m http.server`, the stored blob (`sendfile`) | {py:.2f} | {rate(py):.0f} | {100 * dd_r / py:.0f} % of `dd` read | |")
PY
