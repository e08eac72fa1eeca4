# Shared helpers for the local stack scripts. Sourced, never run.
# Every part script (stack/<part>/part.sh) defines <part>_fetch, <part>_start,
# <part>_health and <part>_stop and relies only on what is defined here.

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Data, logs and pid files of this clone; git-ignored.
STACK_DIR="${STACK_DIR:-$STACK_ROOT/.stack}"
# Downloads and builds, shared by every clone of this user (CI reuses them).
HUB_CACHE_DIR="${HUB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm-hub}"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
SCHEMA_REGISTRY_PORT="${SCHEMA_REGISTRY_PORT:-8081}"
SCHEMA_REGISTRY_MANAGEMENT_PORT="${SCHEMA_REGISTRY_MANAGEMENT_PORT:-9001}"
MONGODB_PORT="${MONGODB_PORT:-27017}"
POSTGRES_PORT="${POSTGRES_PORT:-5432}"

mkdir -p "$STACK_DIR/logs" "$STACK_DIR/pids" "$HUB_CACHE_DIR"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

pid_file() { printf '%s/pids/%s.pid' "$STACK_DIR" "$1"; }
log_file() { printf '%s/logs/%s.log' "$STACK_DIR" "$1"; }

# is_running NAME: the process recorded in NAME's pid file is alive.
is_running() {
  local pf; pf="$(pid_file "$1")"
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# start_daemon NAME CMD...: starts CMD detached (own session), logs to NAME's log.
start_daemon() {
  local name="$1"; shift
  local lf; lf="$(log_file "$name")"
  printf '\n=== %s start %s ===\n' "$name" "$(date -u +%FT%TZ)" >>"$lf"
  setsid "$@" >>"$lf" 2>&1 < /dev/null &
  echo $! >"$(pid_file "$name")"
}

# stop_daemon NAME [TIMEOUT_S]: SIGTERM the process group, SIGKILL after the timeout.
stop_daemon() {
  local name="$1" timeout="${2:-30}" pf pid
  pf="$(pid_file "$name")"
  [ -f "$pf" ] || return 0
  pid="$(cat "$pf")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((timeout * 10)) ]; do
      sleep 0.1; waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in ${timeout}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$pf"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until NAME TIMEOUT_S CMD...: polls CMD until it succeeds; fails naming the
# part and its log when the time is up or the process died.
wait_until() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@"; do
    if ! is_running "$name"; then
      die "$name exited while starting; see $(log_file "$name")"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      die "$name not healthy after ${timeout}s; see $(log_file "$name")"
    fi
    sleep 0.5
  done
}

# find_java MIN_MAJOR: prints a java binary of at least that major version.
find_java() {
  local min="$1" candidate version
  for candidate in "${JAVA_HOME:-}/bin/java" "$(command -v java 2>/dev/null)" /usr/lib/jvm/*/bin/java; do
    [ -x "$candidate" ] || continue
    version="$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}')"
    version="${version%%.*}"
    if [ -n "$version" ] && [ "$version" -ge "$min" ]; then
      printf '%s\n' "$candidate"; return 0
    fi
  done
  return 1
}
