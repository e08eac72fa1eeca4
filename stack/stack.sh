#!/usr/bin/env bash
# The local stack: Kafka (KRaft), Apicurio schema registry, FerretDB (MongoDB wire)
# on PostgreSQL, and a mail catcher for the emails workflows send.
#   stack.sh up [part...]      start what is not running, wait for health (idempotent)
#   stack.sh down [part...]    stop every part (or the named ones) cleanly
#   stack.sh status            NAME=value address lines; exit 1 when a part is down
# Parts: kafka registry postgres ferretdb smtp. Naming parts serves tests that need a
# private broker to stop and start (STACK_DIR and the ports set to their own).
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
  [ "$#" -eq 0 ] || select_parts "$@"
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
  if [[ " ${PARTS[*]} " == *" registry "* ]]; then
    # Confluent's default is BACKWARD; Apicurio's is NONE. Make the registry behave like Confluent.
    curl -fsS -m 5 -X PUT -H 'content-type: application/json' \
      -d '{"compatibility":"BACKWARD"}' "http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7/config" >/dev/null \
      || die "registry: could not set the global compatibility to BACKWARD; see $(log_file registry)"
  fi
  status
}

down() {
  local i
  [ "$#" -eq 0 ] || select_parts "$@"
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

# select_parts NAME...: restricts PARTS (kept in start order) to the named ones.
select_parts() {
  local want=" $* " part chosen=()
  for part in "$@"; do
    [[ " ${PARTS[*]} " == *" $part "* ]] || die "unknown part '$part' (parts: ${PARTS[*]})"
  done
  for part in "${PARTS[@]}"; do
    [[ "$want" == *" $part "* ]] && chosen+=("$part")
  done
  PARTS=("${chosen[@]}")
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
