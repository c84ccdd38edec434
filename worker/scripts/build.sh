#!/usr/bin/env bash
# Builds the worker into build/ (index.js, the wasm module, the shim) with worker-build, using the
# installed wasm-bindgen CLI and the npm wasm-opt and esbuild, so that nothing is downloaded.
# Needs: `cargo install worker-build`, `cargo install wasm-bindgen-cli --version <Cargo.lock's>`,
# and `npm ci` in worker/ (scripts/setup does all three).
#   scripts/build.sh [--force]   (skips the build when build/ is newer than every source;
#                                 `wrangler dev` runs this script before it starts)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--force" ] && [ -f build/index.js ] && [ -f build/index_bg.wasm ]; then
    newer=$(find src Cargo.toml ../Cargo.lock ../Cargo.toml ../crates/schoon-core ../crates/schoon-jpeg \
        ../crates/schoon-filter -newer build/index_bg.wasm -type f -not -path '*/target/*' -print -quit)
    if [ -z "$newer" ]; then
        echo "build/ is up to date (scripts/build.sh --force rebuilds)"
        exit 0
    fi
fi
[ "${1:-}" = "--force" ] && shift

lock_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' ../Cargo.lock)
WASM_BINDGEN_BIN=${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen || true)}
if [ -z "$WASM_BINDGEN_BIN" ] || ! "$WASM_BINDGEN_BIN" --version | grep -q " $lock_version\$"; then
    echo "error: wasm-bindgen $lock_version is needed (cargo install wasm-bindgen-cli --version $lock_version)" >&2
    exit 1
fi
for tool in wasm-opt esbuild; do
    if [ ! -x "node_modules/.bin/$tool" ]; then
        echo "error: node_modules/.bin/$tool is missing: run npm ci in worker/" >&2
        exit 1
    fi
done
command -v worker-build >/dev/null || { echo "error: cargo install worker-build" >&2; exit 1; }

export WASM_BINDGEN_BIN
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"
# Never let Debian's wasm-opt (version 108, breaks worker modules) be picked up from PATH.
export PATH="$PWD/node_modules/.bin:$PATH"
exec worker-build --profile wasm-release "$@"
