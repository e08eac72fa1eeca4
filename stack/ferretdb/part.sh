# FerretDB part: the MongoDB-wire store (FerretDB 1.x). Sourced after lib.sh;
# defines functions only.
#
# Backend: FERRETDB_BACKEND=postgresql (default) stores in the PostgreSQL of
# stack/postgres (127.0.0.1:$POSTGRES_PORT, database "ferretdb"), so the
# postgres part must come before this one in stack.sh's PARTS.
# FERRETDB_BACKEND=sqlite keeps the old embedded SQLite backend (files in
# $STACK_DIR/ferretdb/data, no other part needed). Both run the same FerretDB
# handler (same semantics, same bugs); on PostgreSQL, with the _id GIN index of
# stack/postgres/ferretdb-setup.sql, reads and writes by _id cost under 1 ms at
# 50k documents against 100-2000 ms on SQLite, whose reads all scan the table.
# Switching backends does not migrate data. Neither backend is atomic under
# concurrency: FerretDB 1.x updates by read-modify-write without locks, so
# concurrent updates of one document from several connections lose updates.
#
# We build our own tiny launcher (main.go here) around FerretDB's embeddable
# package instead of `go install .../cmd/ferretdb`, whose binary panics at
# start (missing generated build/version/version.txt). The FerretDB version is
# pinned by go.mod/go.sum next to this file.

FERRETDB_SRC_DIR="$STACK_ROOT/stack/ferretdb"
FERRETDB_BACKEND="${FERRETDB_BACKEND:-postgresql}"
# No build tags: both backends are compiled in (the documented tag
# ferretdb_no_postgresql would leave the PostgreSQL backend out).
FERRETDB_BUILD_TAGS=""

# ferretdb_binary: prints the cache path of the launcher for the current sources.
ferretdb_binary() {
  local version hash
  version="$(awk '$1 == "github.com/FerretDB/FerretDB" {print $2; exit} $1 == "require" && $2 == "github.com/FerretDB/FerretDB" {print $3; exit}' "$FERRETDB_SRC_DIR/go.mod")"
  hash="$(cat "$FERRETDB_SRC_DIR/main.go" "$FERRETDB_SRC_DIR/go.mod" "$FERRETDB_SRC_DIR/go.sum" \
    <(printf 'tags=%s\n' "$FERRETDB_BUILD_TAGS") | sha256sum | cut -c1-12)"
  printf '%s/ferretdb-%s-%s/ferretdb-launcher\n' "$HUB_CACHE_DIR" "${version:-unknown}" "$hash"
}

ferretdb_fetch() {
  local bin dir tmp start
  bin="$(ferretdb_binary)"
  [ -x "$bin" ] && return 0
  command -v go >/dev/null 2>&1 || die "ferretdb: the Go toolchain (go >= 1.24) is needed to build the launcher"
  dir="$(dirname "$bin")"
  mkdir -p "$dir"
  tmp="$dir/.ferretdb-launcher.tmp.$$"
  log "building FerretDB launcher into $bin (cold build takes about a minute)"
  start=$(date +%s)
  if ! (cd "$FERRETDB_SRC_DIR" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
        go build -trimpath -buildvcs=false ${FERRETDB_BUILD_TAGS:+-tags "$FERRETDB_BUILD_TAGS"} -o "$tmp" .); then
    rm -f "$tmp"
    die "ferretdb: go build of the launcher failed"
  fi
  mv -f "$tmp" "$bin"
  log "FerretDB launcher built in $(( $(date +%s) - start ))s"
}

ferretdb_start() {
  ferretdb_fetch
  if is_running ferretdb; then
    log "ferretdb already running"
    return 0
  fi
  if port_open "$MONGODB_PORT"; then
    die "ferretdb: port $MONGODB_PORT is already taken by another process"
  fi
  local backend_args
  case "$FERRETDB_BACKEND" in
    postgresql)
      # The launcher connects lazily, so FerretDB may start before PostgreSQL
      # is healthy; stack.sh waits for postgres before anyone uses FerretDB.
      declare -F postgres_start >/dev/null \
        || die "ferretdb: FERRETDB_BACKEND=postgresql needs the postgres part (stack/postgres/part.sh) in stack.sh's PARTS before ferretdb; or set FERRETDB_BACKEND=sqlite"
      backend_args=(-handler postgresql
        -postgresql-url "postgres://${POSTGRES_USER:-postgres}@127.0.0.1:$POSTGRES_PORT/${POSTGRES_DB:-ferretdb}") ;;
    sqlite)
      mkdir -p "$STACK_DIR/ferretdb/data"
      backend_args=(-handler sqlite -data-dir "$STACK_DIR/ferretdb/data/") ;;
    *) die "ferretdb: FERRETDB_BACKEND must be postgresql or sqlite, not '$FERRETDB_BACKEND'" ;;
  esac
  # What ferretdb_health checks depends on the backend of the running process.
  mkdir -p "$STACK_DIR/ferretdb"
  printf '%s\n' "$FERRETDB_BACKEND" >"$STACK_DIR/ferretdb/backend"
  # Telemetry is forced off and locked by the embeddable package; the env
  # variables below are belt and braces for FerretDB's documented switches.
  FERRETDB_TELEMETRY=disable DO_NOT_TRACK=1 \
    start_daemon ferretdb "$(ferretdb_binary)" \
      -listen-addr "127.0.0.1:$MONGODB_PORT" \
      "${backend_args[@]}" \
      -log-level "${FERRETDB_LOG_LEVEL:-info}"
}

# Fast and silent: our process is alive and a socket listens on
# 127.0.0.1:$MONGODB_PORT (FerretDB binds only after its backend is set up, and
# the kernel completes handshakes on a listening socket). Reading
# /proc/net/tcp instead of connecting keeps FerretDB's log free of the three
# "Connection started/stopped" lines that every probe connection would cause;
# port_open is the fallback where /proc is not there.
ferretdb_health() {
  is_running ferretdb || return 1
  _ferretdb_listening "$MONGODB_PORT" || return 1
  # On PostgreSQL FerretDB listens even while its database is down (it
  # connects per request), so a usable store also needs PostgreSQL listening.
  # The backend is the one the running process was started with (no file:
  # started by an older version of this script, which only knew SQLite).
  local backend=sqlite
  [ -r "$STACK_DIR/ferretdb/backend" ] && read -r backend <"$STACK_DIR/ferretdb/backend"
  [ "$backend" != postgresql ] || _ferretdb_listening "$POSTGRES_PORT"
}

# _ferretdb_listening PORT: a socket listens on 127.0.0.1:PORT (no connection).
_ferretdb_listening() {
  if [ -r /proc/net/tcp ]; then
    # local 127.0.0.1:PORT (0100007F:hex), remote 0.0.0.0:0, state 0A = LISTEN
    grep -q " 0100007F:$(printf '%04X' "$1") 00000000:0000 0A " /proc/net/tcp
  else
    port_open "$1"
  fi
}

ferretdb_stop() {
  stop_daemon ferretdb 30
}

# FerretDB 1.x answers `hello` as a standalone server, so the Node driver needs
# no extra options; directConnection=true just skips topology discovery.
ferretdb_address() {
  printf 'MONGODB_URI=mongodb://127.0.0.1:%s/?directConnection=true\n' "$MONGODB_PORT"
}
