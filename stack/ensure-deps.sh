# Sourced by start.sh and test.sh: installs node_modules when missing or stale.
ensure_node_deps() {
  local root="$1"
  if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    echo "[hub] installing node dependencies (npm ci)" >&2
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) || { echo "[hub] error: npm ci failed" >&2; exit 1; }
  fi
}
