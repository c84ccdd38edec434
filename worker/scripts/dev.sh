#!/usr/bin/env bash
# Runs the worker locally on real workerd with `wrangler dev` (no Cloudflare login, KV and R2
# emulated under .wrangler/state). On first use it writes .dev.vars with local keys:
#   .wrangler/dev-keys/set        the list owner's signing key (sign local sets with it:
#                                 schoon build ... --signing-key .wrangler/dev-keys/set)
#   RECEIPT_SIGNING_KEY           a local receipt key
#   admin key                     printed once, its SHA-256 goes to ADMIN_KEY_SHA256
# Then: WRANGLER_SEND_METRICS=false npx wrangler dev --ip 127.0.0.1 --port ${PORT:-8787}
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd .. && pwd)
schoon=${SCHOON_CLI:-${CARGO_TARGET_DIR:-$root/target}/release/schoon}
if [ ! -f .dev.vars ]; then
    [ -x "$schoon" ] || (cd .. && cargo build --release -q -p schoon-cli)
    mkdir -p .wrangler/dev-keys
    [ -f .wrangler/dev-keys/set ] || "$schoon" keygen --out .wrangler/dev-keys/set
    [ -f .wrangler/dev-keys/receipt ] || "$schoon" keygen --out .wrangler/dev-keys/receipt
    admin="adm_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    hex() { grep -v '^#' "$1" | head -1; }
    {
        echo "SET_PUBLIC_KEY=$(hex .wrangler/dev-keys/set.pub)"
        echo "RECEIPT_SIGNING_KEY=$(hex .wrangler/dev-keys/receipt)"
        echo "ADMIN_KEY_SHA256=$(printf %s "$admin" | sha256sum | cut -d' ' -f1)"
    } > .dev.vars
    chmod 600 .dev.vars
    echo "wrote .dev.vars; the local admin key is: $admin (shown once)"
fi
export WRANGLER_SEND_METRICS=false
exec npx wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
