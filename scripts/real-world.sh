#!/usr/bin/env bash
# Rebuilds real releases from their real registries with reprove itself, and writes a table:
# package, result, time, and the first difference of every mismatch.
#
#   scripts/real-world.sh [--out FILE] [--work DIR] pypi:NAME[==VERSION] crates:NAME[@VERSION] debian:SOURCE[=VERSION] ...
#   scripts/real-world.sh --list scripts/real-world-pypi.txt
#
# Each package is `ECOSYSTEM:NAME[==VERSION]` (a bare NAME means pypi:NAME; crates take
# NAME@VERSION, debian SOURCE=VERSION). Without a version, the newest (non-yanked) release on the
# registry is taken (debian: the suite's). Ecosystems: pypi (import pypi + one rebuild, compared
# with the published wheel); crates (import crate + two rebuilds by two rebuilder keys in two
# work directories: no binary is published, so the result is whether the two builds agree —
# `agreed`, or `differ` with the first differing byte); debian (import debian from
# $REPROVE_DEBIAN_MIRROR, default https://deb.debian.org/debian, suite $REPROVE_DEBIAN_SUITE,
# default bookworm; then rebuild, compared with the archive's .debs).
#
# It runs a private ledger on 127.0.0.1 (in --work), makes an importer key and a rebuilder key,
# and for each package runs `reprove import pypi NAME==VERSION` (from https://pypi.org/simple,
# or $REPROVE_PYPI_INDEX) then `reprove rebuild --release NAME@VERSION --submit`. Network is
# used (the registries); everything else stays on this machine. Needs: curl, python3, bwrap,
# a built reprove ($REPROVE, default $CARGO_TARGET_DIR/debug/reprove or target/debug/reprove).
set -euo pipefail

out=/dev/stdout
work=""
list=""
pkgs=()
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --list) list=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pkgs+=("$1"); shift ;;
  esac
done
if [ -n "$list" ]; then
  while read -r line; do
    line=${line%%#*}; line=$(echo "$line" | xargs)
    [ -n "$line" ] && pkgs+=("$line")
  done < "$list"
fi
((${#pkgs[@]})) || { echo "usage: $0 [--out FILE] [--work DIR] [--list FILE] pypi:NAME[==VERSION]..." >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
R=${REPROVE:-${CARGO_TARGET_DIR:-$here/target}/debug/reprove}
[ -x "$R" ] || { echo "no reprove binary at $R (cargo build, or set REPROVE)" >&2; exit 2; }
INDEX=${REPROVE_PYPI_INDEX:-https://pypi.org/simple}
CRATES=${REPROVE_CRATES_INDEX:-https://index.crates.io}

if [ -z "$work" ]; then work=$(mktemp -d /tmp/reprove-real-world.XXXXXX); chmod 755 "$work"; fi
mkdir -p "$work"
rm -rf "$work/ledger" "$work/keys"
"$R" ledger init --data "$work/ledger" --origin real-world.reprove.test >/dev/null
"$R" key generate --name importer.real-world.test --out "$work/keys" >/dev/null
"$R" key generate --name rebuilder.real-world.test --out "$work/keys" >/dev/null
"$R" key generate --name rebuilder-b.real-world.test --out "$work/keys" >/dev/null
"$R" ledger serve --data "$work/ledger" --listen 127.0.0.1:0 --batch-max-age 20 \
  >"$work/ledger.out" 2>"$work/ledger.err" &
ledger_pid=$!
trap 'kill "$ledger_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on //p' "$work/ledger.out" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "${url:-}" ] || { echo "the ledger did not start: $(cat "$work/ledger.err")" >&2; exit 2; }
logkey=("--log-key-file" "$work/ledger/log.pub")

json_field() { python3 -c 'import json,sys
try: d=json.loads(sys.stdin.read() or "{}")
except Exception: d={}
v=d
for k in sys.argv[1].split("."): v=v.get(k) if isinstance(v,dict) else None
print("" if v is None else v)' "$1"; }

latest() {  # the newest version of a PyPI project, from its JSON API
  curl -fsS --max-time 60 "https://pypi.org/pypi/$1/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["info"]["version"])'
}

latest_crate() {  # the newest non-yanked version of a crate, from the sparse index
  local n=${1,,} p
  case ${#n} in 1) p=1/$n ;; 2) p=2/$n ;; 3) p=3/${n:0:1}/$n ;; *) p=${n:0:2}/${n:2:2}/$n ;; esac
  curl -fsS --max-time 60 "$CRATES/$p" | python3 -c 'import json,sys
v=[d["vers"] for d in map(json.loads, filter(str.strip, sys.stdin)) if not d["yanked"] and "-" not in d["vers"]]
print(v[-1] if v else "")'
}

secs_since() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f} s')" "$1" "$(date +%s.%N)"; }

# One crate: import, then two rebuilds by two keys; the row says whether they agree.
crate_row() {
  local name=$1 version=$2 start imp project r1 r2 res1 res2 d1 d2 t why
  [ -n "$version" ] || version=$(latest_crate "$name" 2>/dev/null || true)
  [ -n "$version" ] || { echo "| crates:$name | unknown | - | no such crate on the registry |"; return; }
  start=$(date +%s.%N)
  if ! imp=$("$R" import crate "$name@$version" --registry "$CRATES" --key "$work/keys/importer.real-world.test.key" \
      --ledger "$url" "${logkey[@]}" --json 2>"$work/import.err"); then
    why=$(grep -m1 . "$work/import.err" | sed 's/^error: //' | cut -c1-220 | tr '|' '/')
    echo "| crates:$name $version | refused | $(secs_since "$start") | $why |"; return
  fi
  project=$(echo "$imp" | json_field project)
  r1=$("$R" rebuild --release "$project@$version" --ledger "$url" "${logkey[@]}" \
      --key "$work/keys/rebuilder.real-world.test.key" --work "$work/node" --submit --json 2>"$work/rebuild.err" || true)
  r2=$("$R" rebuild --release "$project@$version" --ledger "$url" "${logkey[@]}" \
      --key "$work/keys/rebuilder-b.real-world.test.key" --work "$work/node-b" --submit --json 2>>"$work/rebuild.err" || true)
  t=$(secs_since "$start")
  res1=$(echo "$r1" | json_field result); res2=$(echo "$r2" | json_field result)
  if [ "$res1" != reproduced ] || [ "$res2" != reproduced ]; then
    why="$(echo "$r1" | json_field detail) $(echo "$r2" | json_field detail)"
    [ -n "${why// /}" ] || why=$(head -c 200 "$work/rebuild.err")
    echo "| crates:$name $version | ${res1:-error}/${res2:-error} | $t | $(echo "$why" | head -c 200 | tr '|\n' '/ ') |"; return
  fi
  d1=$(echo "$r1" | python3 -c 'import json,sys; print(" ".join(a["name"]+"="+a["sha256"] for a in json.load(sys.stdin)["rebuilt"]))')
  d2=$(echo "$r2" | python3 -c 'import json,sys; print(" ".join(a["name"]+"="+a["sha256"] for a in json.load(sys.stdin)["rebuilt"]))')
  if [ "$d1" = "$d2" ]; then
    reproduced=$((reproduced + 1)); buildable=$((buildable + 1))
    echo "| crates:$name $version | agreed (2 builds) | $t | ${d1:0:90}… |"
  else
    buildable=$((buildable + 1))
    why=$(cmp "$(ls -d "$(echo "$r1" | json_field job_dir)"/build/outputs/* | head -n1)" \
               "$(ls -d "$(echo "$r2" | json_field job_dir)"/build/outputs/* | head -n1)" 2>&1 | head -n1)
    echo "| crates:$name $version | differ | $t | ${why:0:200} |"
  fi
}

# The first difference of a mismatch: the report's likely cause (its first, by name) and the
# first line of the report that names a change.
first_difference() {
  local report="$1/diff-report.txt" cause line
  [ -f "$report" ] || { echo "(no diff report)"; return; }
  cause=$(sed -n '/^likely causes:$/{n;s/^- \([^:]*\):.*/\1/p;q}' "$report" || true)
  line=$(grep -v -E '^(reprove diff report.*|likely causes:|- .*|== .*|published sha256.*|rebuilt +sha256.*|)$' "$report" \
    | head -n1 || true)
  echo "${cause:+likely cause: $cause; }$line" \
    | sed 's/DateTime::from_date_and_time(\([^)]*\))?/(\1)/g' | cut -c1-200 | tr '|' '/'
}

elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f} s')" "$1" "$(date +%s.%N)"; }

# Rebuilds an imported release (RELEASE = NAME@VERSION) and writes its table row, counting it.
rebuild_row() {  # LABEL RELEASE VERSION START
  local reb result why job
  reb=$("$R" rebuild --release "$2" --ledger "$url" "${logkey[@]}" \
      --key "$work/keys/rebuilder.real-world.test.key" --work "$work/node" --submit --json 2>"$work/rebuild.err" || true)
  result=$(echo "$reb" | json_field result)
  job=$(echo "$reb" | json_field job_dir)
  case "$result" in
    reproduced) reproduced=$((reproduced + 1)); buildable=$((buildable + 1)); why="" ;;
    mismatch) buildable=$((buildable + 1)); why=$(first_difference "$job") ;;
    "") result=error; why=$(head -c 200 "$work/rebuild.err" | tr '|\n' '/ ') ;;
    *) why=$(echo "$reb" | json_field detail | head -c 200 | tr '|\n' '/ ') ;;
  esac
  echo "| $1 $3 | $result | $(elapsed "$4") | $why |" >>"$out"
}

DEB_MIRROR=${REPROVE_DEBIAN_MIRROR:-https://deb.debian.org/debian}
DEB_SUITE=${REPROVE_DEBIAN_SUITE:-bookworm}
deb_version() {  # the suite's version of a source package (its Sources.xz, read once)
  [ -f "$work/Sources" ] || curl -fsS --max-time 300 "$DEB_MIRROR/dists/$DEB_SUITE/main/source/Sources.xz" | xz -dc >"$work/Sources"
  awk -v p="Package: $1" '$0==p{f=1} f&&/^Version:/{print $2; exit}' "$work/Sources"
}

# Imports and rebuilds one Debian source package: one table row.
debian_row() {
  local name=${1%%=*} version=""
  [[ "$1" == *=* ]] && version=${1#*=}
  [ -n "$version" ] || version=$(deb_version "$name" || true)
  if [ -z "$version" ]; then
    echo "| debian:$name | unknown | - | no such source package in $DEB_SUITE |" >>"$out"; return
  fi
  local start; start=$(date +%s.%N)
  if ! "$R" import debian "$name=$version" --mirror "$DEB_MIRROR" --suite "$DEB_SUITE" \
      --key "$work/keys/importer.real-world.test.key" --ledger "$url" "${logkey[@]}" --json \
      >/dev/null 2>"$work/import.err"; then
    echo "| debian:$name $version | refused | $(elapsed "$start") | $(grep -m1 . "$work/import.err" | sed 's/^error: //' | cut -c1-220 | tr '|' '/') |" >>"$out"
    return
  fi
  rebuild_row "debian:$name" "$name@$version" "$version" "$start"
}

{
  echo "| package | result | time (import + rebuild) | first difference / reason |"
  echo "| --- | --- | --- | --- |"
} >"$out"
reproduced=0; buildable=0; total=0
for spec in "${pkgs[@]}"; do
  eco=pypi; pkg=$spec
  case "$spec" in *:*) eco=${spec%%:*}; pkg=${spec#*:} ;; esac
  total=$((total + 1))
  if [ "$eco" = debian ]; then
    debian_row "$pkg"
    continue
  fi
  if [ "$eco" = crates ]; then
    cname=${pkg%%@*}; cversion=""
    [[ "$pkg" == *@* ]] && cversion=${pkg#*@}
    crate_row "$cname" "$cversion" >>"$out"
    continue
  fi
  if [ "$eco" != pypi ]; then
    echo "| $eco:$pkg | not yet | - | the $eco importer is not written yet (issue #16) |" >>"$out"
    continue
  fi
  name=${pkg%%==*}; version=""
  [[ "$pkg" == *==* ]] && version=${pkg#*==}
  [ -n "$version" ] || version=$(latest "$name" 2>/dev/null || true)
  if [ -z "$version" ]; then
    echo "| $name | unknown | - | no such project on PyPI |" >>"$out"; continue
  fi
  start=$(date +%s.%N)
  if ! imp=$("$R" import pypi "$name==$version" --index "$INDEX" --key "$work/keys/importer.real-world.test.key" \
      --ledger "$url" "${logkey[@]}" --json 2>"$work/import.err"); then
    t=$(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f} s')" "$start" "$(date +%s.%N)")
    reason=$(grep -m1 . "$work/import.err" | sed 's/^error: //' | cut -c1-220 | tr '|' '/')
    echo "| $name $version | refused | $t | $reason |" >>"$out"
    continue
  fi
  project=$(echo "$imp" | json_field project)
  reb=$("$R" rebuild --release "$project@$version" --ledger "$url" "${logkey[@]}" \
      --key "$work/keys/rebuilder.real-world.test.key" --work "$work/node" --submit --json 2>"$work/rebuild.err" || true)
  t=$(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f} s')" "$start" "$(date +%s.%N)")
  result=$(echo "$reb" | json_field result)
  detail=$(echo "$reb" | json_field detail | head -c 200 | tr '|\n' '/ ')
  job=$(echo "$reb" | json_field job_dir)
  case "$result" in
    reproduced) reproduced=$((reproduced + 1)); buildable=$((buildable + 1)); why="" ;;
    mismatch) buildable=$((buildable + 1)); why=$(first_difference "$job") ;;
    "") result=error; why=$(head -c 200 "$work/rebuild.err" | tr '|\n' '/ ') ;;
    *) why=$detail ;;
  esac
  echo "| $name $version | $result | $t | $why |" >>"$out"
done
rate="n/a"
((buildable)) && rate=$(python3 -c "print(f'{100*$reproduced/$buildable:.0f} %')")
echo "" >>"$out"
echo "Reproduced bit for bit (PyPI: as published; crates: two builds agreed): $reproduced of $buildable that built ($total packages): $rate." >>"$out"
