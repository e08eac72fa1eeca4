#!/usr/bin/env bash
# npm start [-- <service>...]: installs what is missing, brings the local stack up
# (unless KAFKA_BROKERS etc. point elsewhere and HUB_SKIP_STACK=1), then runs the
# services under a supervisor. Ctrl-C stops the services; the stack stays up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/stack/ensure-deps.sh"
ensure_node_deps "$root"
if [ "${HUB_SKIP_STACK:-0}" != "1" ]; then
  bash "$root/stack/stack.sh" up
fi
cd "$root"
exec node --import tsx stack/supervisor.ts "$@"
