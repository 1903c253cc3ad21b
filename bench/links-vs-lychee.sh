#!/usr/bin/env bash
# dtindex's link checker against lychee 0.24 on the same loopback URLs, at equal
# concurrency, in the same run: wall time of each, their ratio run by run, and whether they
# reach the same verdict on every URL.
#
#   bench/links-vs-lychee.sh [URLS=100000] [CONCURRENCY=128] [RUNS=3]
#
# The URLs are the simulator's `/links/{n}` (see `simulate::bench_link_answer`): about 89 %
# answer 200, 4 % 404, 2 % 500, 5 % a 301 to a page that answers 200, and 1.5 % answer only
# after 200 ms. Both tools get no retries (a 500 is a failure at once), no per-host interval,
# the same concurrency overall and per host, and a 20 s timeout. lychee comes from
# `cargo install lychee --version '^0.24' --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

urls=${1:-100000}
concurrency=${2:-128}
runs=${3:-3}

command -v lychee >/dev/null || { echo "lychee not found: cargo install lychee --version '^0.24' --locked" >&2; exit 2; }
lychee --version
cargo build --release --locked --quiet
bin=target/release/dtindex

work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" simulate --listen "127.0.0.1:$port" >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/links/0" && break
  sleep 0.1
done

seq 0 $((urls - 1)) | sed "s|^|http://127.0.0.1:$port/links/|" >"$work/urls.txt"
# Raise the descriptor limit for both: 128 connections each way plus lychee's own.
ulimit -n 65536 2>/dev/null || true

now() { date +%s.%N; }
{
echo "run	urls	concurrency	dtindex_s	lychee_s	ratio	dtindex_failing	lychee_failing	verdicts_differ"
for run in $(seq "$runs"); do
  t0=$(now)
  "$bin" check-links "$work/urls.txt" --concurrency "$concurrency" --per-host "$concurrency" \
    --interval-ms 0 --retries 0 --timeout-ms 20000 --allow-loopback \
    >"$work/dtindex.tsv" 2>"$work/dtindex.err" || true
  t1=$(now)
  lychee --no-progress --max-concurrency "$concurrency" --host-concurrency "$concurrency" \
    --host-request-interval 0ms --max-retries 0 --timeout 20 \
    --format json --output "$work/lychee.json" "$work/urls.txt" >/dev/null 2>"$work/lychee.err" || true
  t2=$(now)
  python3 - "$work/dtindex.tsv" "$work/lychee.json" "$urls" "$run" "$concurrency" "$t0" "$t1" "$t2" <<'EOF'
import json, sys
dt_path, ly_path, n, run, conc, t0, t1, t2 = sys.argv[1:]
n = int(n)
dt_fail, dt_seen = set(), 0
for line in open(dt_path):
    cls, _status, url = line.rstrip("\n").split("\t")
    dt_seen += 1
    # ok and redirect (a redirect that ends in a 2xx) are the link working.
    if cls not in ("ok", "redirect"):
        dt_fail.add(url)
ly = json.load(open(ly_path))
ly_fail = {e["url"].rstrip("/") for errs in ly.get("error_map", {}).values() for e in errs}
ly_fail |= {e["url"].rstrip("/") for errs in ly.get("timeout_map", {}).values() for e in errs}
dt_fail = {u.rstrip("/") for u in dt_fail}
if dt_seen != n or ly.get("total") != n:
    sys.exit(f"incomplete: dtindex answered {dt_seen}, lychee {ly.get('total')}, of {n}")
differ = len(dt_fail ^ ly_fail)
d, l = float(t1) - float(t0), float(t2) - float(t1)
print(f"{run}\t{n}\t{conc}\t{d:.2f}\t{l:.2f}\t{l / d:.2f}\t{len(dt_fail)}\t{len(ly_fail)}\t{differ}")
if differ:
    for u in sorted(dt_fail ^ ly_fail)[:10]:
        print("  differs:", u, "dtindex fails" if u in dt_fail else "lychee fails", file=sys.stderr)
    sys.exit(1)
EOF
done
} | python3 bench/summarize.py --by urls,concurrency
