#!/usr/bin/env bash
# npm run bench -- <name>: runs test/bench/<name>.ts against the real local stack.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:-}"
if [ -z "$name" ] || [ ! -f "$root/test/bench/$name.ts" ]; then
  echo "usage: npm run bench -- <name>; available: $(cd "$root/test/bench" && ls *.ts | grep -v '^support' | sed 's/\.ts$//' | tr '\n' ' ')" >&2
  exit 2
fi
shift
source "$root/stack/ensure-deps.sh"
ensure_node_deps "$root"
# HUB_SKIP_STACK=1: the stack is already running (another checkout started it), as for npm start.
if [ "${HUB_SKIP_STACK:-0}" != "1" ]; then
  bash "$root/stack/stack.sh" up >/dev/null
fi
cd "$root"
exec node --import tsx "test/bench/$name.ts" "$@"
