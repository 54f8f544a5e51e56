#!/usr/bin/env bash
# The ledger's throughput benchmark, as recorded in the README: one release-build server with its
# default settings on 127.0.0.1, grown by `reprove bench ledger` itself until the log holds
# TARGET entries; every run's report is one JSON line, with the server's CPU seconds, RSS and the
# data directory's size added.
#
#   scripts/bench-ledger.sh DATA_DIR TARGET [SECONDS_PER_RUN]
#   WRITERS=1536 READERS=0 PORT=18600 scripts/bench-ledger.sh /var/tmp/bench-log 10000000 60
#
# Reuses DATA_DIR if it holds a log (to measure at a size, grow it there first). Results are
# appended to DATA_DIR.results.jsonl. Loopback only; the number of runs is bounded.
set -euo pipefail

data=${1:?usage: bench-ledger.sh DATA_DIR TARGET [SECONDS_PER_RUN]}
target=${2:?usage: bench-ledger.sh DATA_DIR TARGET [SECONDS_PER_RUN]}
seconds=${3:-60}
writers=${WRITERS:-1536}
readers=${READERS:-0}
port=${PORT:-18600}
url="http://127.0.0.1:$port"
results="$data.results.jsonl"

# RocksDB compiled here (-O3, no assertions), as a log server is built: Debian's library keeps
# its assertions and costs the ledger about 30 % of its rate (ARCHITECTURE.md, "rocksdb").
ROCKSDB_COMPILE=1 cargo build --release --locked --bin reprove
bin="${CARGO_TARGET_DIR:-target}/release/reprove"

[ -d "$data" ] || "$bin" ledger init --data "$data" --origin bench.example/log
"$bin" ledger serve --data "$data" --listen "127.0.0.1:$port" >"$data.serve.out" 2>"$data.serve.err" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q listening "$data.serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$data.serve.out" || { echo "the server did not start:" >&2; cat "$data.serve.err" >&2; exit 2; }

cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }   # user + system, in clock ticks
ticks=$(getconf CLK_TCK)
max_runs=$(( target / (seconds * 1000) + 10 ))              # bounded even at 1,000/s
for _ in $(seq 1 "$max_runs"); do
  size=$(curl -sf "$url/checkpoint" | sed -n 2p)
  [ "$size" -ge "$target" ] && break
  before=$(cpu)
  report=$("$bin" bench ledger --url "$url" --writers "$writers" --readers "$readers" \
    --seconds "$seconds" --pool $(( seconds * 16000 )) --json)
  after=$(cpu)
  rss=$(awk '/VmRSS/{print $2}' "/proc/$server/status")
  bytes=$(du -sb "$data" | awk '{print $1}')
  line="{\"bench\": $report, \"server_cpu_seconds\": $(( (after - before) / ticks )), \"server_rss_kib\": $rss, \"data_bytes\": $bytes}"
  echo "$line" >>"$results"
  echo "$line"
done
