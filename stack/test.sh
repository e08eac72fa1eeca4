#!/usr/bin/env bash
# npm test [-- <test files>]: installs what is missing, brings the local stack up,
# runs every test under test/ with node's test runner against it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/stack/ensure-deps.sh"
ensure_node_deps "$root"
if [ "${HUB_SKIP_STACK:-0}" != "1" ]; then
  bash "$root/stack/stack.sh" up >/dev/null
fi
cd "$root"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(find test/unit test/contract test/integration test/e2e -name '*.test.ts' 2>/dev/null | sort)
fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=1800000 --test-reporter=spec "${files[@]}"
