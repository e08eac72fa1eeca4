#!/usr/bin/env bash
# The local stack: Kafka (KRaft), Apicurio schema registry, FerretDB (MongoDB wire)
# on PostgreSQL, and a mail catcher for the emails workflows send.
#   stack.sh up      start what is not running, wait for health (idempotent)
#   stack.sh down    stop every part cleanly
#   stack.sh status  NAME=value address lines; exit 1 when a part is down
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$STACK_ROOT/stack/kafka/part.sh"
source "$STACK_ROOT/stack/registry/part.sh"
source "$STACK_ROOT/stack/postgres/part.sh"
source "$STACK_ROOT/stack/ferretdb/part.sh"
source "$STACK_ROOT/stack/smtp/part.sh"

# Start order; stop is the reverse. FerretDB stores its data in PostgreSQL.
PARTS=(kafka registry postgres ferretdb smtp)
# Parts that must be healthy before the next ones start.
BLOCKING_PARTS=" postgres "
HEALTH_TIMEOUT_S="${STACK_HEALTH_TIMEOUT_S:-180}"

up() {
  local part started=()
  # Fetch sequentially (Maven and Go builds compete for 2 cores and the network)...
  for part in "${PARTS[@]}"; do
    if "${part}_health"; then continue; fi
    "${part}_fetch"
  done
  # ...then start everything at once and wait for each.
  for part in "${PARTS[@]}"; do
    if "${part}_health"; then
      log "$part already running"
      continue
    fi
    if is_running "$part"; then
      log "$part is starting (pid $(cat "$(pid_file "$part")"))"
    else
      "${part}_start"
    fi
    if [[ "$BLOCKING_PARTS" == *" $part "* ]]; then
      wait_until "$part" "$HEALTH_TIMEOUT_S" "${part}_health"
      log "$part healthy"
    else
      started+=("$part")
    fi
  done
  for part in "${started[@]+"${started[@]}"}"; do
    local t0=$SECONDS
    wait_until "$part" "$HEALTH_TIMEOUT_S" "${part}_health"
    log "$part healthy (+$((SECONDS - t0))s)"
  done
  # Confluent's default is BACKWARD; Apicurio's is NONE. Make the registry behave like Confluent.
  curl -fsS -m 5 -X PUT -H 'content-type: application/json' \
    -d '{"compatibility":"BACKWARD"}' "http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7/config" >/dev/null \
    || die "registry: could not set the global compatibility to BACKWARD; see $(log_file registry)"
  status
}

down() {
  local i
  # Reverse order: the store and registry first, the broker last.
  for (( i=${#PARTS[@]}-1; i>=0; i-- )); do
    "${PARTS[$i]}_stop"
  done
  log "stack stopped"
}

status() {
  local part rc=0
  for part in "${PARTS[@]}"; do
    "${part}_address"
    if ! "${part}_health"; then
      log "$part is down (log: $(log_file "$part"))"
      rc=1
    fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
