#!/usr/bin/env bash
# Every test of www/ (called by scripts/test-all): the WebAssembly bindings, the npm package,
# the upload guard and the demo in real Chromium (see test-wasm.sh).
set -euo pipefail
exec "$(dirname "$0")/test-wasm.sh" "$@"
