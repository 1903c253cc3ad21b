#!/usr/bin/env bash
# Scaling curves (issue 9, scenario 6): the national cycle (bench/national-cycle.sh) as the
# federation grows ×1, ×2, ×4 and ×8 in one dimension at a time — agencies, datasets per
# agency, links per dataset — from a base small enough to run the ×8 points on a laptop.
# Cost should grow linearly with the total work: compare cycle1_s and peak_rss_mib
# against the ×1 row.
#
#   bench/scaling.sh [AGENCIES=10] [DATASETS=250] [LINKS=1] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."

a=${1:-10}
d=${2:-250}
l=${3:-1}
runs=${4:-3}
echo "| agencies | datasets | links | cycle1_s | cycle1_cpu_s | cycle2_s | cycle2_cpu_s | cycle2/cycle1 | peak_rss_mib |"
echo "|---|---|---|---|---|---|---|---|---|"
for f in 1 2 4 8; do
  for dim in agencies datasets links; do
    # The ×1 point is the same federation in every dimension: measure it once.
    if [ "$f" = 1 ] && [ "$dim" != agencies ]; then continue; fi
    case $dim in
      agencies) args=("$((a * f))" "$d" "$l") ;;
      datasets) args=("$a" "$((d * f))" "$l") ;;
      links) args=("$a" "$d" "$((l * f))") ;;
    esac
    echo "== ×$f $dim: ${args[*]}" >&2
    bench/national-cycle.sh "${args[@]}" "$runs" | tail -1
  done
done
