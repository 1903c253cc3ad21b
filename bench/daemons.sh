#!/usr/bin/env bash
# Work sharing (issue 7): the cycle time of the AGENCIES-agency simulated federation
# crawled by 1, 2 and 3 daemons sharing one PostgreSQL database. Each run starts a fresh
# schema and N `dtindex serve` daemons at once (the first starts the cycle, the others
# join it); the cycle time is the first cycle's finished_at - started_at as the database
# recorded it. Median, min and max over RUNS runs per daemon count.
#
#   PG=postgres://postgres@127.0.0.1:5432/test bench/daemons.sh [AGENCIES=200] [DATASETS=200] [LINKS=3] [RUNS=3]
#
# Needs psql (Debian package postgresql-client) and a PostgreSQL server at $PG; every
# daemon, the simulator and the server share this machine's cores, so past the core
# count more daemons measure contention, not scaling. As in bench/national-cycle.sh the
# whole federation is one loopback host, so the per-host link limits are lifted.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

agencies=${1:-200}
datasets=${2:-200}
links=${3:-3}
runs=${4:-3}
pg=${PG:-postgres://postgres@127.0.0.1:5432/test}
schema=dtindex_bench_daemons

# DTINDEX_BIN: a binary already built (e.g. to try the script quickly on a debug build).
bin=$(dtindex_bin)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -q "$pg" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true


port=$(free_port)
"$bin" simulate --listen "127.0.0.1:$port" --agencies "$agencies" --datasets "$datasets" \
  --links "$links" --write-registry "$work/agencies.toml" >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ -s "$work/simulator-ca.pem" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done

sep='?'; case "$pg" in *\?*) sep='&' ;; esac
url="$pg${sep}options=-csearch_path%3D$schema&application_name=dtindex-bench"

printf 'daemons\tagencies\tdatasets\tlinks\tmedian_s\tmin_s\tmax_s\n'
for n in 1 2 3; do
  times=()
  for run in $(seq "$runs"); do
    psql -q "$pg" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
    daemons=()
    for i in $(seq "$n"); do
      { cat <<EOF
registry = "agencies.toml"
targets = "$PWD/config/targets.toml"
[server]
listen = "127.0.0.1:$(free_port)"
[state]
dir = "state-$i"
[database]
url = "$url"
[schedule]
cron = "0 0 1 1 1 *"
run_at_start = true
EOF
      crawl_settings; } >"$work/dtindex-$i.toml"
      "$bin" serve --config "$work/dtindex-$i.toml" >"$work/daemon-$i.log" 2>&1 &
      daemons+=($!)
      pids+=($!)
    done
    secs=
    for _ in $(seq 36000); do
      secs=$(psql -qtA "$pg" -c "SELECT EXTRACT(EPOCH FROM finished_at - started_at) FROM $schema.cycles WHERE status = 'finished' ORDER BY id LIMIT 1" 2>/dev/null || true)
      [ -n "$secs" ] && break
      sleep 0.1
    done
    for p in "${daemons[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    [ -n "$secs" ] || { echo "no cycle finished with $n daemons" >&2; tail -20 "$work"/daemon-*.log >&2; exit 1; }
    times+=("$secs")
  done
  printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
n, a, d, l = sys.argv[1:]
t = [float(x) for x in sys.stdin if x.strip()]
print(f"{n}\t{a}\t{d}\t{l}\t{statistics.median(t):.2f}\t{min(t):.2f}\t{max(t):.2f}")
' "$n" "$agencies" "$datasets" "$links"
done
