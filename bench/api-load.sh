#!/usr/bin/env bash
# The API under load (issue 9, scenario 5): wrk against /api/v1/rankings and an agency's
# view while the daemon runs cycles over a simulated federation, and against an axum
# hello-world (examples/hello.rs) built in the same run, one after the other with the same
# wrk settings. Reports requests/s, the ratio to the hello-world and wrk's p99 latency;
# median, min and max over RUNS runs.
#
#   bench/api-load.sh [RUNS=3] [SECONDS=10] [CONNECTIONS=64]
#
# wrk is Debian's package `wrk`. DTINDEX_BIN and HELLO_BIN run given builds instead of
# building this tree (to measure a before and an after in one session); the build honours
# CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-3}
seconds=${2:-10}
connections=${3:-64}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }

target=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${DTINDEX_BIN:-}" ] || [ -z "${HELLO_BIN:-}" ]; then
  cargo build --release --locked --quiet --bin dtindex --example hello
fi
bin=${DTINDEX_BIN:-$target/release/dtindex}
hello=${HELLO_BIN:-$target/release/examples/hello}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true
. bench/lib.sh
wait_for() { for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

# A federation big enough that a cycle is still running while wrk does (100 agencies ×
# 500 datasets × 2 links), crawled every 10 s: ticks that find a cycle running are skipped.
sim_port=$(free_port)
"$bin" simulate --listen "127.0.0.1:$sim_port" --agencies 100 --datasets 500 --links 2 \
  --write-registry "$work/agencies.toml" >"$work/sim.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$sim_port/"
api_port=$(free_port)
cat >"$work/dtindex.toml" <<TOML
registry = "agencies.toml"
targets = "$PWD/config/targets.toml"
[server]
listen = "127.0.0.1:$api_port"
[state]
dir = "state"
[schedule]
cron = "*/10 * * * * *"
run_at_start = true
[crawl]
extra_ca_file = "simulator-ca.pem"
[links]
global_concurrency = 64
per_host_concurrency = 64
per_host_interval_ms = 0
allow_loopback = true
[links.hosts]
"files.federation.dtindex" = "127.0.0.1"
TOML
RUST_LOG=warn "$bin" serve --config "$work/dtindex.toml" >"$work/serve.log" 2>&1 &
pids+=($!)
# Rankings exist once the first cycle has finished.
for _ in $(seq 1200); do
  [ "$(curl -sf "http://127.0.0.1:$api_port/api/v1/rankings" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("entries", [])))' 2>/dev/null)" -gt 0 ] 2>/dev/null && break
  sleep 0.25
done
code=$(curl -sf "http://127.0.0.1:$api_port/api/v1/rankings" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"][0]["code"])')
hello_port=$(free_port)
"$hello" "127.0.0.1:$hello_port" &
pids+=($!)
wait_for "http://127.0.0.1:$hello_port/"

# wrk's summary: "Requests/sec: N" and, with --latency, "99% Xms|Xus|Xs".
measure() {
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "$1" | python3 -c '
import re, sys
text = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
v, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", text).groups()
p99 = float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{rps:.0f}\t{p99:.2f}\t{non2xx.group(1) if non2xx else 0}")'
}

{
printf 'run\troute\trps\tp99_ms\tnon_2xx\thello_rps\tratio\n'
for run in $(seq "$runs"); do
  for route in /api/v1/rankings "/api/v1/agencies/$code"; do
    read -r rps p99 bad < <(measure "http://127.0.0.1:$api_port$route")
    read -r hrps _ _ < <(measure "http://127.0.0.1:$hello_port/")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$route" "$rps" "$p99" "$bad" "$hrps" \
      "$(python3 -c "print(f'{$rps / $hrps:.2f}')")"
  done
done
} | python3 bench/summarize.py --by route
cycles=$(curl -sf "http://127.0.0.1:$api_port/metrics" | grep -E '^dtindex_cycles_total' || true)
echo "cycles during the run: $cycles" >&2
