#!/usr/bin/env bash
# Every test of www/ (called by scripts/test-all). Phase 1: the WebAssembly package.
set -euo pipefail
exec "$(dirname "$0")/test-wasm.sh" "$@"
