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
# Local credentials, made once: the admin token of the admin API and the key that
# seals stored secrets. On a real deployment, set HUB_ADMIN_TOKEN and HUB_SECRETS_KEY.
mkdir -p .stack
if [ -z "${HUB_ADMIN_TOKEN:-}" ]; then
  [ -s .stack/admin-token ] || (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' > .stack/admin-token)
  export HUB_ADMIN_TOKEN="$(cat .stack/admin-token)"
  echo "[hub] admin token: $root/.stack/admin-token (npm run hub -- workspace create <name>); console: http://127.0.0.1:${HUB_HTTP_PORT:-8080}/console"
fi
if [ -z "${HUB_SECRETS_KEY:-}" ]; then
  [ -s .stack/secrets-key ] || (umask 077; node -e 'process.stdout.write("local1:" + require("crypto").randomBytes(32).toString("base64"))' > .stack/secrets-key)
  export HUB_SECRETS_KEY="$(cat .stack/secrets-key)"
fi
exec node --import tsx cli/supervisor.ts "$@"
