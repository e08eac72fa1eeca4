# Schema registry part of the local stack: Apicurio Registry 3.x (a Quarkus app from
# Maven Central), serving the Confluent-compatible API at /apis/ccompat/v7.
# Sourced after stack/lib.sh; defines functions only.
#
# Storage is SQL on an H2 *file* under $STACK_DIR/registry/data, so schema ids
# (which Avro-encoded Kafka messages carry) survive restarts. Remove that folder to
# start from an empty registry.
#
# Overrides (env):
#   REGISTRY_VERSION    Apicurio version (default 3.3.3, needs Java 21+). 3.0.x would run on
#                       Java 17 but cannot be fetched this way: Maven Central lacks its parent
#                       POM io.apicurio:apicurio-registry:pom:3.0.9, so mvn refuses it.
#   REGISTRY_JAVA_OPTS  extra JVM flags / -D properties appended last (they win)
#   REGISTRY_ACCESS_LOG true to log every HTTP request (off by default: health polls)

REGISTRY_VERSION="${REGISTRY_VERSION:-3.3.3}"
REGISTRY_MAVEN_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

registry_home() { printf '%s/apicurio-registry-%s' "$HUB_CACHE_DIR" "$REGISTRY_VERSION"; }
registry_data_dir() { printf '%s/registry' "$STACK_DIR"; }

# Minimum Java major for the chosen version: 3.0.x runs on 17, later lines need 21.
registry_java_min() {
  case "$REGISTRY_VERSION" in
    2.* | 3.0.*) echo 17 ;;
    *) echo 21 ;;
  esac
}

registry_fetch() {
  local home marker tmp
  home="$(registry_home)"
  marker="$home/.complete"
  [ -f "$marker" ] && [ -f "$home/quarkus-run.jar" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "registry: mvn not found (needed to fetch Apicurio Registry from Maven Central)"
  log "fetching Apicurio Registry $REGISTRY_VERSION through Maven"
  tmp="$home.partial.$$"
  rm -rf "$tmp" "$home"
  mkdir -p "$tmp/dl" "$tmp/app"
  if ! mvn -q -B -Dstyle.color=never "$REGISTRY_MAVEN_PLUGIN:copy" \
      -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
      -DoutputDirectory="$tmp/dl" >&2; then
    rm -rf "$tmp"
    die "registry: mvn could not fetch io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all"
  fi
  # The archive has no top-level folder: lib/ app/ quarkus/ quarkus-run.jar.
  if ! tar -xzf "$tmp/dl/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz" -C "$tmp/app" \
      || [ ! -f "$tmp/app/quarkus-run.jar" ]; then
    rm -rf "$tmp"
    die "registry: could not unpack the Apicurio Registry $REGISTRY_VERSION distribution"
  fi
  mv "$tmp/app" "$home"
  rm -rf "$tmp"
  date -u +%FT%TZ >"$marker"
}

registry_start() {
  is_running registry && return 0
  registry_fetch
  local java home data min
  min="$(registry_java_min)"
  java="$(find_java "$min")" \
    || die "registry: Apicurio Registry $REGISTRY_VERSION needs Java $min or newer; none found (JAVA_HOME, PATH, /usr/lib/jvm/*)"
  if port_open "$SCHEMA_REGISTRY_PORT"; then
    die "registry: port $SCHEMA_REGISTRY_PORT is already taken by another process"
  fi
  home="$(registry_home)"
  data="$(registry_data_dir)"
  mkdir -p "$data/data" "$data/tmp"
  local access_log=false
  [ "${REGISTRY_ACCESS_LOG:-}" = true ] && access_log=true
  # shellcheck disable=SC2086 # REGISTRY_JAVA_OPTS is a list of flags
  start_daemon registry "$java" \
    -Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.io.tmpdir="$data/tmp" \
    -Dquarkus.http.host=127.0.0.1 \
    -Dquarkus.http.port="$SCHEMA_REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 \
    -Dquarkus.management.port="$SCHEMA_REGISTRY_MANAGEMENT_PORT" \
    -Dquarkus.http.access-log.enabled="$access_log" \
    -Dapicurio.storage.kind=sql \
    -Dapicurio.storage.sql.kind=h2 \
    -Dapicurio.datasource.url="jdbc:h2:file:$data/data/registry;DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY=0" \
    -Dapicurio.datasource.username=sa \
    -Dapicurio.datasource.password=sa \
    -Dapicurio.datasource.jdbc.initial-size=2 \
    -Dapicurio.datasource.jdbc.min-size=2 \
    -Dapicurio.datasource.jdbc.max-size=20 \
    -Dapicurio.storage.snapshot.location="$data/tmp" \
    -Dapicurio.import.work-dir="$data/tmp" \
    ${REGISTRY_JAVA_OPTS:-} \
    -jar "$home/quarkus-run.jar"
}

# 0 only when the Confluent-compatible API answers 200; silent, at most ~1 s.
registry_health() {
  local code
  code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' \
    "http://127.0.0.1:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7/subjects" 2>/dev/null)" || return 1
  [ "$code" = 200 ]
}

registry_stop() { stop_daemon registry 30; }

registry_address() {
  printf 'SCHEMA_REGISTRY_URL=http://127.0.0.1:%s/apis/ccompat/v7\n' "$SCHEMA_REGISTRY_PORT"
}
