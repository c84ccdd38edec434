#!/usr/bin/env bash
# Builds the worker and runs all of its tests (scripts/test-all calls this):
#   1. formatting and clippy (host and wasm32) of the worker crate, its native tests (the pure
#      request handling against an in-memory backend) and the core's receipt tests;
#   2. the `schoon` CLI (it makes the test keys and sets) and the worker (scripts/build.sh);
#   3. the API and gate-mode tests on real workerd (Miniflare), the documented `wrangler dev`
#      run, all on 127.0.0.1;
#   4. a bounded load test of /v1/confirm (15 s, stops by itself; fails on any 5xx).
# Expects what scripts/setup installs: worker-build, wasm-bindgen-cli, `npm ci` in worker/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd .. && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
export WRANGLER_SEND_METRICS=false
start=$(date +%s)
step() { printf '\n== worker: %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "fmt, clippy (host, wasm32), native tests"
(
    cd "$root"
    cargo fmt -p schoon-worker --check
    cargo clippy -p schoon-worker --all-targets --no-deps --locked -- -D warnings
    cargo clippy -p schoon-worker --target wasm32-unknown-unknown --no-deps --locked -- -D warnings
    cargo test -p schoon-worker --locked
    cargo test -p schoon-core --lib --locked receipt
)

step "build the schoon CLI and the worker"
(cd "$root" && cargo build --release -q -p schoon-cli --locked)
scripts/build.sh

step "API, gate mode and wrangler dev on workerd"
node --test test/api.test.mjs test/gate.test.mjs test/regions.test.mjs test/shards.test.mjs test/check.test.mjs test/remote-scan.test.mjs test/queue.test.mjs test/followup.test.mjs test/wrangler-dev.test.mjs

step "bounded load test of /v1/confirm"
node test/load.mjs 15 16

step "worker tests passed"
