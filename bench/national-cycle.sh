#!/usr/bin/env bash
# The national cycle at scale (issue 9, scenarios 1, 2 and 6): a simulated federation of
# AGENCIES agencies, each publishing a data.json of DATASETS records with LINKS links each,
# crawled by `dtindex crawl --cycles 2` on loopback: the first cycle from an empty
# database, the second over the unchanged federation. Reports wall time, CPU time and peak
# RSS of each cycle, one row per run (a fresh database and a fresh simulator each run), then
# the median with min and max (bench/summarize.py).
#
#   bench/national-cycle.sh [AGENCIES=100] [DATASETS=2000] [LINKS=3] [RUNS=3]
#
# DTINDEX_BIN=path runs another build (of an earlier commit, say) instead of this one.
#
# The whole federation is one loopback host, so the per-host limits a real federation
# needs (4 at a time, 50 ms apart) would make this a bench of the limits: they are lifted
# to the global concurrency here, as in bench/links-vs-lychee.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

agencies=${1:-100}
datasets=${2:-2000}
links=${3:-3}
runs=${4:-3}

bin=$(dtindex_bin)
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

{
# This group runs in a subshell (it feeds the summary): it needs the cleanup of its own.
trap cleanup EXIT
printf 'run\tagencies\tdatasets\tlinks\tcycle1_s\tcycle1_cpu_s\tcycle2_s\tcycle2_cpu_s\tcycle2/cycle1\tpeak_rss_mib\n'
for run in $(seq "$runs"); do
  port=$(free_port)
  "$bin" simulate --listen "127.0.0.1:$port" --agencies "$agencies" --datasets "$datasets" \
    --links "$links" --write-registry "$work/agencies.toml" >"$work/sim.log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 200); do
    [ -s "$work/simulator-ca.pem" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
  rm -rf "$work/state"
  { cat <<EOF
registry = "agencies.toml"
targets = "$PWD/config/targets.toml"
[server]
listen = "127.0.0.1:$(free_port)"
[state]
dir = "state"
[schedule]
cron = "0 0 1 * * *"
run_at_start = true
EOF
  crawl_settings; } >"$work/dtindex.toml"
  out=$(RUST_LOG="${RUST_LOG:-warn}" "$bin" crawl --config "$work/dtindex.toml" --cycles 2 2>"$work/crawl.err" | grep "^cycle ") || {
    cat "$work/crawl.err" >&2
    exit 1
  }
  # DTINDEX_BENCH_LOG=FILE keeps the crawl's log (with RUST_LOG=info, each stage's times).
  [ -n "${DTINDEX_BENCH_LOG:-}" ] && cp "$work/crawl.err" "$DTINDEX_BENCH_LOG.$run"
  kill "$sim_pid" 2>/dev/null || true
  wait "$sim_pid" 2>/dev/null || true
  sim_pid=
  # "cycle N finished in Xs: cpu Ys, peak rss Z MiB", twice.
  echo "$out" | python3 -c '
import re, sys
run, a, d, l = sys.argv[1:]
rows = [re.search(r"in ([\d.]+)s: cpu ([\d.]+)s, peak rss (\d+) MiB", line).groups() for line in sys.stdin]
(w1, c1, _), (w2, c2, rss) = rows
print(f"{run}\t{a}\t{d}\t{l}\t{w1}\t{c1}\t{w2}\t{c2}\t{float(w2) / float(w1):.3f}\t{rss}")
' "$run" "$agencies" "$datasets" "$links"
done
} | python3 bench/summarize.py --by agencies,datasets,links
