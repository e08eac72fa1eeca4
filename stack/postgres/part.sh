# PostgreSQL part: the storage backend of FerretDB (stack/ferretdb) — one
# private PostgreSQL server on 127.0.0.1:$POSTGRES_PORT with a database
# "ferretdb". Sourced after lib.sh; defines functions only.
#
# The server binaries are Debian's (package "postgresql", PostgreSQL 15 on
# bookworm), installed with apt-get when missing. We never use the distro's
# service or its pg_ctlcluster clusters: initdb runs once into
# $STACK_DIR/postgres/data and the postmaster runs as a start_daemon child with
# its Unix socket in $STACK_DIR/postgres/run, so every clone has its own data.
# PostgreSQL refuses to run as root, so as root the server runs as the
# "postgres" user (which the Debian package creates) and owns the data dir.
#
# ferretdb-setup.sql (next to this file) adds a GIN index on _id to every
# FerretDB table, without which FerretDB 1.24 reads by _id scan the table.
#
# Dev-box settings: trust authentication (the server listens on 127.0.0.1
# only), small shared buffers, fsync on, synchronous_commit off (a crash of the
# machine may lose the last few hundred ms of commits, never corrupts).

POSTGRES_DB="${POSTGRES_DB:-ferretdb}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
# Overridable; passed to the postmaster as -c settings on every start.
POSTGRES_SHARED_BUFFERS="${POSTGRES_SHARED_BUFFERS:-128MB}"
POSTGRES_SYNCHRONOUS_COMMIT="${POSTGRES_SYNCHRONOUS_COMMIT:-off}"
# "log" keeps startup, shutdown, checkpoint and FATAL lines but not the ERROR of
# every failed statement: the unique violations behind duplicate key (11000)
# replies are routine for our event store (and FerretDB reports query errors).
POSTGRES_LOG_MIN_MESSAGES="${POSTGRES_LOG_MIN_MESSAGES:-log}"

_postgres_part_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The server runs as "postgres" when we are root, and that user cannot reach a clone
# under a private home (/root is 0700): the data then lives in a world-traversable
# place, one folder per clone. Decided once per shell.
_postgres_dir() {
  if [ -z "${_POSTGRES_DIR:-}" ]; then
    _POSTGRES_DIR="$STACK_DIR/postgres"
    if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 \
        && ! setpriv --reuid=postgres --regid=postgres --init-groups -- test -x "$STACK_DIR" 2>/dev/null; then
      _POSTGRES_DIR="/var/tmp/crm-hub-postgres/$(printf '%s' "$STACK_DIR" | sha256sum | cut -c1-12)"
    fi
  fi
  printf '%s' "$_POSTGRES_DIR"
}

# _postgres_bindir: the bin dir of the newest installed Debian PostgreSQL server.
_postgres_bindir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] || continue
    best="$d"   # the glob sorts 15 < 16 < 17
  done
  [ -n "$best" ] || return 1
  printf '%s\n' "$best"
}

# _postgres_runas: sets the array POSTGRES_RUNAS to the command prefix that runs
# a program as the data dir owner (postgres when we are root, else ourselves).
# setpriv execs in place (no wrapper process), so the pid start_daemon records
# is the postmaster's own.
_postgres_runas() {
  POSTGRES_RUNAS=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "postgres: running as root needs the 'postgres' user (the Debian package creates it)"
    POSTGRES_RUNAS=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
  fi
}

# postgres_fetch: makes sure Debian's PostgreSQL server is installed.
postgres_fetch() {
  _postgres_bindir >/dev/null && return 0
  command -v apt-get >/dev/null 2>&1 \
    || die "postgres: no PostgreSQL server in /usr/lib/postgresql/*/bin and no apt-get to install Debian's package 'postgresql'"
  [ "$(id -u)" -eq 0 ] \
    || die "postgres: no PostgreSQL server in /usr/lib/postgresql/*/bin; install it as root: apt-get install -y postgresql"
  log "postgres: installing Debian's PostgreSQL server (apt-get install postgresql)"
  local start=$SECONDS
  # The package creates a distro cluster "main"; we leave it alone (in
  # containers policy-rc.d keeps it from starting; elsewhere it takes 5432 and
  # postgres_start then says the port is taken: set POSTGRES_PORT).
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2; then
    log "postgres: apt-get install failed; retrying after apt-get update"
    apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2 \
      || die "postgres: apt-get install postgresql failed"
  fi
  _postgres_bindir >/dev/null || die "postgres: the package is installed but /usr/lib/postgresql/*/bin/postgres is missing"
  log "postgres: installed in $((SECONDS - start))s"
}

# Creates the cluster once: initdb, then the database in single-user mode (no
# server needed, so postgres_start can return without waiting).
_postgres_init() {
  local bindir="$1" dir data
  dir="$(_postgres_dir)"; data="$dir/data"
  [ -f "$data/PG_VERSION" ] && [ -f "$dir/.initialized" ] && return 0
  log "postgres: initializing a cluster in $data"
  rm -rf "$data"
  mkdir -p "$data" "$dir/run"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir" "$data" "$dir/run"
  fi
  chmod 700 "$data"
  _postgres_runas
  "${POSTGRES_RUNAS[@]}" "$bindir/initdb" -D "$data" -U "$POSTGRES_USER" --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 --no-instructions >>"$(log_file postgres)" 2>&1 \
    || die "postgres: initdb failed; see $(log_file postgres)"
  printf 'CREATE DATABASE "%s";\n' "$POSTGRES_DB" \
    | "${POSTGRES_RUNAS[@]}" "$bindir/postgres" --single -D "$data" -j postgres >>"$(log_file postgres)" 2>&1 \
    || die "postgres: creating database $POSTGRES_DB failed; see $(log_file postgres)"
  touch "$dir/.initialized"
}

# Applies ferretdb-setup.sql (the _id GIN indexes, see there) to the database
# in single-user mode whenever the file changed since it was last applied.
# Only while the server is stopped (postgres_start calls it before starting).
_postgres_setup() {
  local bindir="$1" dir sql stamp out
  dir="$(_postgres_dir)"; sql="$_postgres_part_dir/ferretdb-setup.sql"
  stamp="$(sha256sum "$sql" | cut -c1-16)"
  [ "$(cat "$dir/.setup" 2>/dev/null)" = "$stamp" ] && return 0
  log "postgres: applying $(basename "$sql") to database $POSTGRES_DB"
  _postgres_runas
  out="$("${POSTGRES_RUNAS[@]}" "$bindir/postgres" --single -j -D "$dir/data" "$POSTGRES_DB" <"$sql" 2>&1)" \
    || { printf '%s\n' "$out" >>"$(log_file postgres)"; die "postgres: applying $sql failed; see $(log_file postgres)"; }
  printf '%s\n' "$out" >>"$(log_file postgres)"
  if printf '%s\n' "$out" | grep -q 'ERROR:'; then
    die "postgres: applying $sql reported errors; see $(log_file postgres)"
  fi
  printf '%s\n' "$stamp" >"$dir/.setup"
}

postgres_start() {
  postgres_fetch
  if is_running postgres; then
    log "postgres already running"
    return 0
  fi
  if port_open "$POSTGRES_PORT"; then
    die "postgres: port $POSTGRES_PORT is already taken by another process (set POSTGRES_PORT)"
  fi
  local bindir dir
  bindir="$(_postgres_bindir)"; dir="$(_postgres_dir)"
  _postgres_init "$bindir"
  _postgres_setup "$bindir"
  _postgres_runas
  # A postmaster.pid left by a killed server is ignored by PostgreSQL once its
  # pid is gone, so no cleanup is needed here.
  start_daemon postgres "${POSTGRES_RUNAS[@]}" "$bindir/postgres" -D "$dir/data" \
    -c listen_addresses=127.0.0.1 -c port="$POSTGRES_PORT" \
    -c unix_socket_directories="$dir/run" \
    -c shared_buffers="$POSTGRES_SHARED_BUFFERS" \
    -c synchronous_commit="$POSTGRES_SYNCHRONOUS_COMMIT" \
    -c max_connections=200 \
    -c autovacuum_naptime=5 -c autovacuum_analyze_threshold=50 -c autovacuum_analyze_scale_factor=0.05 \
    -c logging_collector=off -c log_destination=stderr \
    -c log_line_prefix='%m [%p] %q%u@%d ' \
    -c log_min_messages="$POSTGRES_LOG_MIN_MESSAGES" \
    -c log_min_error_statement=panic
}

# Fast and silent: our postmaster is alive and accepts connections.
postgres_health() {
  is_running postgres || return 1
  "$(_postgres_bindir 2>/dev/null || echo /nonexistent)/pg_isready" -q -t 2 \
    -h 127.0.0.1 -p "$POSTGRES_PORT" -d "$POSTGRES_DB" -U "$POSTGRES_USER" 2>/dev/null
}

# Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit) rather
# than stop_daemon's SIGTERM to the group, which is PostgreSQL's "smart" mode
# and would wait for clients to disconnect.
postgres_stop() {
  local pf pid waited=0
  pf="$(pid_file postgres)"
  if [ -f "$pf" ]; then
    pid="$(cat "$pf")"
    if kill -INT "$pid" 2>/dev/null; then
      while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ]; do
        sleep 0.1; waited=$((waited + 1))
      done
    fi
  fi
  stop_daemon postgres 10
}

postgres_address() {
  printf 'POSTGRES_URL=postgres://%s@127.0.0.1:%s/%s\n' "$POSTGRES_USER" "$POSTGRES_PORT" "$POSTGRES_DB"
}
