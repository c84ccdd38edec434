#!/usr/bin/env bash
# Builds the browser package and runs every WebAssembly and browser test:
#   1. `cargo xtask wasm`: every [[build]] of wasm-pack.toml (web, bundler, web-full,
#      web-platform, nodejs), wasm-opt, size budgets; then `cargo xtask wasm check` semantics
#      (stale/missing = fail)
#   2. `tsc`: the typed wrapper, the guard and its worker (www/dist)
#   3. the Rust tests through the bindings (crates/schoon-wasm/tests: fixtures, Filter, and in
#      Node the Index) in Node, in headless Chromium, and in a dedicated worker in Chromium
#   4. `node --test test/*.test.mjs`: the built package as users get it (every output, through the
#      package's exports; Filter and Index in Node), the browser entry point + HashWorker +
#      platform decoding in Chromium, and the upload guard end to end against the demo server
#      in Chromium (test/guard.test.mjs; screenshots in tests/artifacts/)
#
# Prerequisites (scripts/setup installs them): the wasm32-unknown-unknown target; wasm-pack
# (`cargo install wasm-pack`); wasm-bindgen-cli at the version pinned in wasm-pack.toml
# (`cargo install wasm-bindgen-cli --version 0.2.130`); Debian `chromium` and
# `chromium-driver`; node >= 20 and npm; `npm ci` in www/ (binaryen 132 for wasm-opt,
# typescript, playwright-core). Nothing is downloaded outside the package registries.
#
# Options: --no-build (reuse www/pkg and www/dist), --bench (also print the decoder benchmark).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/wasm}"
build=1
bench=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --bench) bench=1 ;;
        *) echo "usage: $0 [--no-build] [--bench]" >&2; exit 2 ;;
    esac
done
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

if [ ! -x www/node_modules/.bin/tsc ]; then
    step "npm ci (www)"
    (cd www && npm ci --no-audit --no-fund)
fi

if [ "$build" = 1 ]; then
    step "cargo xtask wasm (build every wasm-pack.toml target, check sizes)"
    cargo xtask wasm build
    step "tsc (www/dist)"
    (cd www && npx tsc -p tsconfig.json)
else
    step "cargo xtask wasm check"
    cargo xtask wasm check
fi

step "wasm-bindgen tests in Node (with the Index)"
wasm-pack --log-level warn test --node --mode no-install crates/schoon-wasm --features index

command -v chromedriver >/dev/null || { echo "chromedriver not on PATH (apt-get install chromium-driver)" >&2; exit 1; }
step "wasm-bindgen tests in headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 wasm-pack --log-level warn test --headless --chrome --mode no-install crates/schoon-wasm

step "wasm-bindgen tests in a dedicated worker in headless Chromium"
WASM_BINDGEN_USE_DEDICATED_WORKER=1 wasm-pack --log-level warn test --headless --chrome --mode no-install crates/schoon-wasm

step "npm package tests (Node, Chromium)"
(cd www && node --test test/*.test.mjs)

if [ "$bench" = 1 ]; then
    step "decoder benchmark"
    (cd www && node bench/run.mjs)
    step "guard figures"
    (cd www && node bench/guard.mjs)
fi

step "wasm tests passed"
