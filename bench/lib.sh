# Shared by the benchmark scripts: sourced, not run.

# The binary under test: DTINDEX_BIN when set (a build of another commit, for a before
# and after), else a release build of this checkout.
dtindex_bin() {
  [ -n "${DTINDEX_BIN:-}" ] || cargo build --release --locked --quiet
  echo "${DTINDEX_BIN:-$PWD/target/release/dtindex}"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The crawl and link settings of a benchmark's daemon against the simulator. The whole
# federation is one loopback host, so the per-host limits a real federation needs (4 at
# a time, 50 ms apart) would make the bench one of the limits: they are lifted to the
# global concurrency.
crawl_settings() {
  cat <<SETTINGS
[crawl]
concurrency = 8
agency_deadline_secs = 600
extra_ca_file = "simulator-ca.pem"
[links]
enabled = true
broken_after_cycles = 3
deadline_secs = 600
global_concurrency = 128
per_host_concurrency = 128
per_host_interval_ms = 0
retries = 0
# DTINDEX_BENCH_LINK_TTL=0: every link asked again each cycle, none remembered.
cache_ttl_secs = ${DTINDEX_BENCH_LINK_TTL:-3600}
# DTINDEX_BENCH_FAILURE_RECHECK=0: failing links asked again in every cycle, however close
# (by default a failure stands for 600 s). Unset, the line is empty, so that a build from
# before the setting (DTINDEX_BIN) reads the file too.
${DTINDEX_BENCH_FAILURE_RECHECK:+failure_recheck_secs = $DTINDEX_BENCH_FAILURE_RECHECK}
allow_loopback = true
[links.hosts]
"files.federation.dtindex" = "127.0.0.1"
SETTINGS
}
