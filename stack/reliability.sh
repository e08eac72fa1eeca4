#!/usr/bin/env bash
# npm run reliability -- <scenario> [options]: test/reliability/main.ts against the real local stack.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/stack/ensure-deps.sh"
ensure_node_deps "$root"
bash "$root/stack/stack.sh" up >/dev/null
cd "$root"
exec node --import tsx test/reliability/main.ts "$@"
