# SMTP part: a local mail catcher (stack/smtp/server.ts, built on the smtp-server
# npm package) that the notifier delivers to by default (HUB_SMTP_URL
# smtp://127.0.0.1:2525). Messages are kept in $STACK_DIR/smtp and listed at
# http://127.0.0.1:$SMTP_WEB_PORT/messages. Sourced after lib.sh; functions only.

SMTP_PORT="${SMTP_PORT:-2525}"
SMTP_WEB_PORT="${SMTP_WEB_PORT:-8025}"

smtp_fetch() {
  if [ ! -d "$STACK_ROOT/node_modules/smtp-server" ] || [ ! -d "$STACK_ROOT/node_modules/tsx" ]; then
    source "$STACK_ROOT/stack/ensure-deps.sh"
    ensure_node_deps "$STACK_ROOT"
  fi
}

smtp_start() {
  smtp_fetch
  if is_running smtp; then
    log "smtp already running"
    return 0
  fi
  if port_open "$SMTP_PORT"; then
    die "smtp: port $SMTP_PORT is already taken by another process (set SMTP_PORT, and HUB_SMTP_URL for the hub)"
  fi
  mkdir -p "$STACK_DIR/smtp"
  (cd "$STACK_ROOT" && SMTP_DATA_DIR="$STACK_DIR/smtp" SMTP_PORT="$SMTP_PORT" SMTP_WEB_PORT="$SMTP_WEB_PORT" \
    start_daemon smtp node --import tsx stack/smtp/server.ts)
}

smtp_health() {
  is_running smtp && port_open "$SMTP_PORT"
}

smtp_stop() {
  stop_daemon smtp 10
}

smtp_address() {
  printf 'HUB_SMTP_URL=smtp://127.0.0.1:%s\nSMTP_MESSAGES_URL=http://127.0.0.1:%s/messages\n' "$SMTP_PORT" "$SMTP_WEB_PORT"
}
