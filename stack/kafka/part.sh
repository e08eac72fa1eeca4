# Kafka part of the local stack: a single-node KRaft Apache Kafka (broker and
# controller in one JVM) on 127.0.0.1:$KAFKA_PORT, controller on
# 127.0.0.1:$KAFKA_CONTROLLER_PORT. Sourced after stack/lib.sh; defines
# functions only.
#
# The jars come from Maven Central through stack/kafka/pom.xml into
# $HUB_CACHE_DIR/kafka-$KAFKA_VERSION/libs; data, config and the cluster id live
# in $STACK_DIR/kafka. Storage is formatted once; later starts reuse it.
#
# KAFKA_VERSION is the newest line that kafkajs 2.2.4 (our client) fully works
# with (a kafkajs smoke test passed in full on 4.4.0, as on 3.9.2). Overridable,
# but a data dir formatted by a newer version cannot be read by an older one
# (then remove $STACK_DIR/kafka/data).
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
# Java major the broker of KAFKA_VERSION needs (Kafka 4.x brokers: 17).
KAFKA_JAVA_MIN="${KAFKA_JAVA_MIN:-17}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
# Extra JVM options for the broker, appended last (e.g. -XX:+UseSerialGC).
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"

_kafka_part_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_kafka_home() { printf '%s/kafka-%s' "$HUB_CACHE_DIR" "$KAFKA_VERSION"; }
_kafka_dir() { printf '%s/kafka' "$STACK_DIR"; }

# What a complete download is stamped with: the version and the pom it came from,
# so editing the pom (another binding, exclusion, ...) fetches again.
_kafka_stamp() {
  printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$_kafka_part_dir/pom.xml" | cut -d' ' -f1)"
}

# kafka_fetch: copies the broker, kafka-tools and the log4j2 binding into the
# cache. Idempotent; the marker is written only after a complete copy, so an
# interrupted download is redone.
kafka_fetch() {
  local home marker tmp
  home="$(_kafka_home)"; marker="$home/.complete"
  if [ -f "$marker" ] && [ -d "$home/libs" ] && [ "$(cat "$marker")" = "$(_kafka_stamp)" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "kafka: mvn (Maven) is needed to fetch Kafka"
  log "kafka: fetching Apache Kafka $KAFKA_VERSION jars into $home/libs"
  mkdir -p "$home"
  rm -f "$marker"
  # Leftovers of interrupted fetches (a running one of another clone is younger).
  find "$home" -maxdepth 1 -name 'libs.tmp.*' -mmin +30 -exec rm -rf {} + 2>/dev/null || true
  tmp="$home/libs.tmp.$$"
  rm -rf "$tmp"
  local out
  if ! out="$(mvn -q -B -Dstyle.color=never -f "$_kafka_part_dir/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp" 2>&1)"; then
    printf '%s\n' "$out" >&2
    rm -rf "$tmp"
    die "kafka: fetching Kafka $KAFKA_VERSION with Maven failed"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$tmp/kafka-tools-$KAFKA_VERSION.jar" ] \
    || { rm -rf "$tmp"; die "kafka: Maven did not deliver the Kafka $KAFKA_VERSION jars"; }
  rm -rf "$home/libs"
  mv "$tmp" "$home/libs"
  _kafka_stamp >"$marker"
}

# kafka_java: a java binary new enough for this Kafka.
kafka_java() {
  find_java "$KAFKA_JAVA_MIN" || die "kafka: no Java $KAFKA_JAVA_MIN+ found (set JAVA_HOME)"
}

# kafka_classpath: the broker + tools classpath (needs kafka_fetch first).
kafka_classpath() { printf '%s/libs/*\n' "$(_kafka_home)"; }

kafka_address() { printf 'KAFKA_BROKERS=127.0.0.1:%s\n' "$KAFKA_PORT"; }

_kafka_write_config() {
  local dir="$1"
  cat >"$dir/server.properties" <<EOF
# Written by stack/kafka/part.sh on every start; edit there, not here.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${dir}/data

# One broker on a dev box.
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=3
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=268435456
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
# Written by stack/kafka/part.sh. The broker logs to stdout, which the stack
# sends to .stack/logs/kafka.log.
status = warn
# Keep logging through the broker's own shutdown hook.
shutdownHook = disable
name = stack-kafka
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.zk.name = org.apache.zookeeper
logger.zk.level = WARN
EOF
}

# Formats the KRaft storage once, with a cluster id kept in $dir/cluster.id.
_kafka_format() {
  local dir="$1" java="$2" cid
  [ -f "$dir/data/meta.properties" ] && return 0
  if [ -s "$dir/cluster.id" ]; then
    cid="$(cat "$dir/cluster.id")"
  else
    cid="$("$java" -cp "$(kafka_classpath)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    [ -n "$cid" ] || die "kafka: could not make a cluster id"
    printf '%s\n' "$cid" >"$dir/cluster.id"
  fi
  log "kafka: formatting storage in $dir/data (cluster id $cid)"
  mkdir -p "$dir/data"
  "$java" -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$(kafka_classpath)" \
      kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$dir/server.properties" \
      >>"$(log_file kafka)" 2>&1 \
    || die "kafka: formatting storage failed; see $(log_file kafka)"
}

# kafka_start: fetches if needed, writes the config, formats once, starts the
# broker in the background and returns (the caller waits with kafka_health).
kafka_start() {
  local dir java lf port
  if is_running kafka; then
    log "kafka: already running"; return 0
  fi
  kafka_fetch
  java="$(kafka_java)" || exit 1
  dir="$(_kafka_dir)"
  mkdir -p "$dir"
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$port"; then die "kafka: port $port is already in use by another process"; fi
  done
  _kafka_write_config "$dir"
  _kafka_format "$dir" "$java"
  # Health looks for the "started" line only in what this start writes.
  lf="$(log_file kafka)"
  touch "$lf"
  stat -c %s "$lf" >"$dir/log.offset"
  # shellcheck disable=SC2086 # the *_OPTS are word lists
  start_daemon kafka "$java" \
    $KAFKA_HEAP_OPTS \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    $KAFKA_JVM_OPTS \
    -cp "$(kafka_classpath)" kafka.Kafka "$dir/server.properties"
}

# kafka_health: the broker process is ours and alive, its port accepts, and it
# has logged that it finished starting (KRaft logs this only once the broker is
# registered and unfenced, i.e. serves requests). Fast and silent.
kafka_health() {
  is_running kafka || return 1
  port_open "$KAFKA_PORT" || return 1
  local off
  off="$(cat "$(_kafka_dir)/log.offset" 2>/dev/null || echo 0)"
  # Not a pipe: under pipefail, grep -q stopping early would fail the pipe.
  grep -q -m1 'Kafka Server started' < <(tail -c "+$((off + 1))" "$(log_file kafka)" 2>/dev/null)
}

kafka_stop() { stop_daemon kafka 60; }
