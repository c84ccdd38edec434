#!/usr/bin/env bash
# Prints the worker's figures (see test/bench.mjs): /v1/confirm p50/p99 under load, /v1/scan
# wall time for 0.3, 2 and 12 MP JPEGs (12 MP from the PDQ corpus if present), the bundle size,
# and memory and query time of a 10^6-PDQ index, all on local workerd over 127.0.0.1.
#   scripts/bench.sh [LOAD_SECONDS]   (default 20, at most 60)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}
export CARGO_TARGET_DIR=$target
export WRANGLER_SEND_METRICS=false
scripts/build.sh >/dev/null
(cd .. && cargo build --release -q -p schoon-cli && cargo run --release -q -p schoon-worker --example bench_images -- "$target/bench-images" >/dev/null)
exec node test/bench.mjs "$target/bench-images" "${1:-20}"
