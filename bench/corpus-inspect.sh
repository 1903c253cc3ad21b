#!/usr/bin/env bash
# Runs `dtindex inspect --json` on every catalog of ../shared/corpus (beside the project)
# and prints one Markdown row per file: format recognised, outcome, datasets, score, and
# the catalog-level finding when it could not be read.
# Usage: bench/corpus-inspect.sh [CORPUS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus}
cargo build --release --quiet
echo "| file | format | outcome | datasets | quality score | why not read |"
echo "|---|---|---|---|---|---|"
for f in "$corpus"/{datajson,dcat,ckan,csv}/*; do
  [ -f "$f" ] || continue
  # inspect exits 1 on a catalog it cannot read, after printing its report.
  { ./target/release/dtindex inspect --json "$f" 2>/dev/null || true; } | python3 -c '
import json, sys
d = json.load(sys.stdin)
why = next((x["message"] for x in d["findings"] if x["rule"].startswith("T1.catalog") or x["rule"] == "T1.no-catalog"), "")
row = [sys.argv[1], d["format"], d["outcome"], d["datasets"], d["score"], why[:160]]
print("| " + " | ".join(str(c) for c in row) + " |")
' "${f#"$corpus"/}"
done
