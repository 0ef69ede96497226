#!/usr/bin/env bash
# Runs every benchmark (bench/bench_*.py) in turn; each prints its figures and the ratio
# against a baseline measured in the same run.  Output is also kept in bench/output/.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/output
status=0
for b in bench/bench_*.py; do
    echo "=== $b"
    .venv/bin/python "$b" 2>&1 | tee "bench/output/$(basename "$b" .py).txt" || status=1
done
exit $status
