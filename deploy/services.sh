#!/usr/bin/env bash
# Private PostgreSQL 15, Redis, Kafka 4 (KRaft) and Elasticsearch 8 for Parley, on 127.0.0.1.
#   deploy/services.sh up|down|status [postgres|redis|kafka|elasticsearch ...]
#   deploy/services.sh env      # the PARLEY_* export lines
#   deploy/services.sh clean    # down + delete all service data (downloads are kept)
# State lives in $PARLEY_SERVICES_DIR (default <repo>/.services). See deploy/README.md.
set -Eeuo pipefail
trap 'echo "services.sh: ERROR: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SVC_DIR=${PARLEY_SERVICES_DIR:-$REPO/.services}
PG_PORT=${PARLEY_PG_PORT:-55432}
REDIS_PORT=${PARLEY_REDIS_PORT:-56379}
KAFKA_PORT=${PARLEY_KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${PARLEY_KAFKA_CONTROLLER_PORT:-59093}
ES_PORT=${PARLEY_ES_PORT:-59200}
ES_TRANSPORT_PORT=${PARLEY_ES_TRANSPORT_PORT:-59300}
PG_BIN=${PARLEY_PG_BIN:-/usr/lib/postgresql/15/bin}
ES_USER=${PARLEY_ES_USER:-parley-es}   # Elasticsearch refuses to run as root
TIMEOUT=${PARLEY_SERVICES_TIMEOUT:-120} # seconds, per service health wait
ALL=(postgres redis kafka elasticsearch)

log() { echo "services.sh: $*" >&2; }
die() { # die MESSAGE [LOGFILE]
  log "ERROR: $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    log "errors near the end of $2:"; tail -n 300 "$2" | grep -E 'ERROR|FATAL|Caused by' | tail -n 8 >&2 || true
    log "last lines of $2:"; tail -n 12 "$2" >&2
  fi
  exit 1
}
# wait_until NAME LOGFILE PID_OR_EMPTY CMD... : poll CMD until it succeeds, bounded by $TIMEOUT
wait_until() {
  local name=$1 logf=$2 pid=$3 deadline=$((SECONDS + TIMEOUT)); shift 3
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! alive "$pid"; then die "$name exited during startup" "$logf"; fi
    [ "$SECONDS" -lt "$deadline" ] || die "$name not healthy after ${TIMEOUT}s" "$logf"
    sleep 1
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }
# pid_alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN
# (guards against stale pid files whose pid was reused by an unrelated process)
pid_alive() {
  [ -s "$1" ] || return 1
  local p; p=$(cat "$1")
  alive "$p" && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$2"
}
# stop_pid NAME PIDFILE PATTERN: TERM, wait up to 30 s, then KILL
stop_pid() {
  local name=$1 pidf=$2 pid t=0
  if ! pid_alive "$pidf" "$3"; then rm -f "$pidf"; return 0; fi
  pid=$(cat "$pidf"); kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && [ "$t" -lt 30 ]; do sleep 1; t=$((t + 1)); done
  if alive "$pid"; then log "$name did not stop in 30s, killing"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pidf"
}
apt_ensure() { # apt_ensure COMMAND_OR_PATH PACKAGE: install PACKAGE if COMMAND is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq "$2" >/dev/null; } \
    || die "apt-get install $2 failed"
}
# user_dir NAME USER: echo a directory for service NAME that USER can reach. Normally
# $SVC_DIR/NAME; if USER cannot traverse $SVC_DIR (e.g. repo under /root), the data goes to
# /var/tmp/parley-services-<hash>/NAME and $SVC_DIR/NAME becomes a symlink to it.
user_dir() {
  local d=$SVC_DIR/$1
  if [ ! -e "$d" ] && ! runuser -u "$2" -- test -x "$SVC_DIR"; then
    local alt; alt=/var/tmp/parley-services-$(printf '%s' "$SVC_DIR" | cksum | cut -d' ' -f1)/$1
    mkdir -p "$alt"; chmod 755 "$(dirname "$alt")"; ln -sfn "$alt" "$d"
  fi
  mkdir -p "$d"; readlink -f "$d"
}
# maven_fetch NAME DEST: copy the artifacts of deploy/NAME/pom.xml into DEST (skipped if done)
maven_fetch() {
  local pom=$REPO/deploy/$1/pom.xml dest=$2 stamp
  stamp=$(cksum < "$pom")
  [ "$(cat "$dest/.complete" 2>/dev/null)" = "$stamp" ] && return 0
  apt_ensure mvn maven
  log "fetching $1 artifacts with Maven into $dest"
  rm -rf "$dest"; mkdir -p "$dest"
  mvn -B -q -f "$pom" -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dest" > "$dest/../maven.log" 2>&1 || die "maven download for $1 failed" "$dest/../maven.log"
  echo "$stamp" > "$dest/.complete"
}

# ---------------------------------------------------------------- PostgreSQL 15
pg_dir() { user_dir postgres postgres; }
pg_ctl() { local d; d=$(pg_dir); runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" "$@"; }
pg_sock() { # unix socket paths are limited to ~107 bytes: use /tmp for deep checkouts
  local d=$1; if [ ${#d} -le 75 ]; then echo "$d/run"; else echo "/tmp/parley-pg-$(printf '%s' "$d" | cksum | cut -d' ' -f1)"; fi
}
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
pg_up() {
  apt_ensure "$PG_BIN/initdb" postgresql-15
  local d sock; d=$(pg_dir); sock=$(pg_sock "$d")
  if [ ! -s "$d/data/PG_VERSION" ]; then
    log "initdb $d/data"
    install -d -o postgres -g postgres -m 700 "$d/data"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$d/data" -U postgres --no-locale -E UTF8 \
      --auth-local=trust --auth-host=scram-sha-256 > "$d/initdb.log" 2>&1 || die "initdb failed" "$d/initdb.log"
    printf '%s\n' "max_connections = 200" "fsync = on" "unix_socket_permissions = 0700" >> "$d/data/postgresql.conf"
  fi
  install -d -o postgres -g postgres -m 700 "$sock"
  touch "$d/postgres.log"; chown postgres "$d/postgres.log"
  if ! pg_ctl status >/dev/null 2>&1; then
    pg_ctl -l "$d/postgres.log" -w -t "$TIMEOUT" start \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $sock" >/dev/null 9>&- || die "postgres failed to start" "$d/postgres.log"
  fi
  wait_until postgres "$d/postgres.log" "" pg_ready
  local q=("$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d postgres)
  [ "$("${q[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='parley'")" = 1 ] ||
    "${q[@]}" -c "CREATE ROLE parley LOGIN SUPERUSER PASSWORD 'parley'"
  [ "$("${q[@]}" -c "SELECT 1 FROM pg_database WHERE datname='parley'")" = 1 ] ||
    "${q[@]}" -c "CREATE DATABASE parley OWNER parley"
}
pg_down() { pg_ctl status >/dev/null 2>&1 && pg_ctl stop -m fast -w -t 60 >/dev/null; return 0; }
pg_status() { pg_ctl status >/dev/null 2>&1 && pg_ready; }

# ---------------------------------------------------------------- Redis
redis_up() {
  local d=$SVC_DIR/redis
  apt_ensure redis-server redis-server
  mkdir -p "$d/data"
  cat > "$d/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
daemonize yes
pidfile $d/redis.pid
logfile $d/redis.log
dir $d/data
save 60 1000
appendonly no
EOF
  if ! pid_alive "$d/redis.pid" redis-server; then
    redis-server "$d/redis.conf" 9>&- || die "redis-server failed to start" "$d/redis.log"
  fi
  wait_until redis "$d/redis.log" "" redis_status
}
redis_status() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
redis_down() {
  local d=$SVC_DIR/redis
  if pid_alive "$d/redis.pid" redis-server; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true; fi
  stop_pid redis "$d/redis.pid" redis-server # waits for the exit; kills if SHUTDOWN did not work
}

# ---------------------------------------------------------------- Kafka (KRaft, one node)
kafka_java() { # kafka_java MAINCLASS ARGS... : run a Kafka tool quietly (logs to stderr, WARN+)
  local d=$SVC_DIR/kafka
  java -cp "$d/lib/*" -Dlog4j2.configurationFile="$d/tools-log4j2.properties" "$@"
}
java_ensure() {
  apt_ensure java openjdk-17-jdk-headless
  JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
}
kafka_up() {
  local d=$SVC_DIR/kafka
  java_ensure
  maven_fetch kafka "$d/lib"
  mkdir -p "$d/data" "$d/logs"
  cat > "$d/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$d/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
EOF
  printf '%s\n' "appender.f.type=File" "appender.f.name=f" "appender.f.fileName=$d/logs/server.log" \
    "appender.f.layout.type=PatternLayout" "appender.f.layout.pattern=[%d] %p %m (%c)%n" \
    "rootLogger.level=INFO" "rootLogger.appenderRef.f.ref=f" > "$d/log4j2.properties"
  printf '%s\n' "appender.e.type=Console" "appender.e.name=e" "appender.e.target=SYSTEM_ERR" \
    "appender.e.layout.type=PatternLayout" "appender.e.layout.pattern=%p %m%n" \
    "rootLogger.level=WARN" "rootLogger.appenderRef.e.ref=e" > "$d/tools-log4j2.properties"
  if [ ! -f "$d/data/meta.properties" ]; then
    log "formatting Kafka storage in $d/data"
    kafka_java kafka.tools.StorageTool format -t "$(kafka_java kafka.tools.StorageTool random-uuid)" \
      -c "$d/server.properties" > "$d/logs/format.log" 2>&1 || die "kafka storage format failed" "$d/logs/format.log"
  fi
  if ! pid_alive "$d/kafka.pid" kafka.Kafka; then
    local start_line=1 # only look at log lines written by this start
    [ -f "$d/logs/server.log" ] && start_line=$(( $(wc -l < "$d/logs/server.log") + 1 ))
    setsid java -Xms512m -Xmx768m -cp "$d/lib/*" -Dlog4j2.configurationFile="$d/log4j2.properties" \
      kafka.Kafka "$d/server.properties" < /dev/null > "$d/logs/kafka.out" 2>&1 9>&- &
    echo $! > "$d/kafka.pid"
    wait_until kafka "$d/logs/server.log" "$!" \
      bash -c "tail -n +$start_line '$d/logs/server.log' | grep -q 'Kafka Server started'"
  fi
  # a real metadata round trip through the PLAINTEXT listener
  wait_until kafka "$d/logs/server.log" "$(cat "$d/kafka.pid")" timeout 60 \
    java -cp "$d/lib/*" -Dlog4j2.configurationFile="$d/tools-log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list
}
kafka_down() { stop_pid kafka "$SVC_DIR/kafka/kafka.pid" kafka.Kafka; }
kafka_status() { pid_alive "$SVC_DIR/kafka/kafka.pid" kafka.Kafka && port_open "$KAFKA_PORT"; }

# ---------------------------------------------------------------- Elasticsearch 8
es_dir() { user_dir elasticsearch "$ES_USER"; }
es_health() {
  curl -fsS -m 10 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=5s" 2>/dev/null |
    grep -Eq '"status":"(green|yellow)"'
}
es_up() {
  id -u "$ES_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER"
  local d; d=$(es_dir)
  java_ensure; apt_ensure curl curl
  maven_fetch elasticsearch "$d/dist"
  local zip home; zip=$(ls "$d"/dist/elasticsearch-*.zip); home=$d/home/$(basename "$zip" .zip)
  if [ ! -x "$home/bin/elasticsearch" ]; then
    apt_ensure unzip unzip
    rm -rf "${d:?}/home"; mkdir -p "$d/home"; unzip -q "$zip" -d "$d/home" || die "unzip $zip failed"
  fi
  mkdir -p "$d/config/jvm.options.d" "$d/data" "$d/logs" "$d/tmp" "$d/run"
  cp "$home/config/log4j2.properties" "$d/config/"
  sed -e "s#=logs/#=$d/logs/#; s#file=logs/#file=$d/logs/#; s#HeapDumpPath=data#HeapDumpPath=$d/tmp#; s#filecount=32,filesize=64m#filecount=4,filesize=16m#" \
    "$home/config/jvm.options" > "$d/config/jvm.options"
  cat > "$d/config/elasticsearch.yml" <<EOF
cluster.name: parley
node.name: parley-es
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
discovery.type: single-node
path.data: $d/data
path.logs: $d/logs
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
cluster.max_shards_per_node: 20000
EOF
  chown -R "$ES_USER" "$d/config" "$d/data" "$d/logs" "$d/tmp" "$d/run"
  if ! pid_alive "$d/run/es.pid" org.elasticsearch; then
    rm -f "$d/run/es.pid"
    timeout "$TIMEOUT" runuser -u "$ES_USER" -- env ES_JAVA_HOME="$JAVA_HOME" ES_PATH_CONF="$d/config" \
      ES_TMPDIR="$d/tmp" ES_JAVA_OPTS="-Xms1g -Xmx1g" "$home/bin/elasticsearch" -d -p "$d/run/es.pid" \
      > "$d/logs/launcher.out" 2>&1 9>&- || die "elasticsearch failed to start (see $d/logs/parley.log)" "$d/logs/launcher.out"
  fi
  wait_until elasticsearch "$d/logs/parley.log" "$(cat "$d/run/es.pid" 2>/dev/null)" es_health
}
es_down() { stop_pid elasticsearch "$(es_dir)/run/es.pid" org.elasticsearch; }
es_status() { pid_alive "$(es_dir)/run/es.pid" org.elasticsearch && es_health; }

# ---------------------------------------------------------------- commands
fn() { case $1 in postgres) echo pg ;; elasticsearch) echo es ;; redis | kafka) echo "$1" ;; *) die "unknown service: $1 (one of: ${ALL[*]})" ;; esac; }
addr() { case $1 in postgres) echo "127.0.0.1:$PG_PORT" ;; redis) echo "127.0.0.1:$REDIS_PORT" ;; kafka) echo "127.0.0.1:$KAFKA_PORT" ;; elasticsearch) echo "http://127.0.0.1:$ES_PORT" ;; esac; }
print_env() {
  echo "export PARLEY_DATABASE_URL=postgresql://parley:parley@127.0.0.1:$PG_PORT/parley"
  echo "export PARLEY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
  echo "export PARLEY_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
  echo "export PARLEY_ELASTICSEARCH_URL=http://127.0.0.1:$ES_PORT"
}
reversed() { local i; for ((i = $# ; i > 0 ; i--)); do echo "${!i}"; done; }

do_down() { local s; for s in $(reversed "$@"); do [ -d "$SVC_DIR/$s" ] && "$(fn "$s")_down"; log "$s stopped"; done; }

cmd=${1:-}; [ $# -gt 0 ] && shift
services=("$@"); [ ${#services[@]} -gt 0 ] || services=("${ALL[@]}")
for s in "${services[@]}"; do fn "$s" >/dev/null; done
[ "$(id -u)" = 0 ] || [ "$cmd" = env ] || die "run as root (postgres/elasticsearch run as their own users via runuser)"
if [ "$cmd" != env ]; then # one invocation at a time (fd 9 is closed for the daemons it starts)
  mkdir -p "$SVC_DIR"; exec 9> "$SVC_DIR/.lock"
  flock -w 600 9 || die "another services.sh still holds $SVC_DIR/.lock"
fi
case $cmd in
  up)
    for s in "${services[@]}"; do
      t0=$SECONDS; log "starting $s"
      "$(fn "$s")_up"; log "$s is up on $(addr "$s") ($((SECONDS - t0))s)"
    done
    print_env ;;
  down) do_down "${services[@]}" ;;
  status) # exit 0 if all listed services answer, 3 otherwise
    rc=0
    for s in "${services[@]}"; do
      if [ -d "$SVC_DIR/$s" ] && "$(fn "$s")_status"; then st=running; else st=stopped; rc=3; fi
      printf '%-14s %-8s %s\n' "$s" "$st" "$(addr "$s")"
    done
    exit $rc ;;
  env) print_env ;;
  clean)
    do_down "${ALL[@]}"
    for s in "${ALL[@]}"; do # keep downloads: kafka/lib, elasticsearch/dist + home
      [ -e "$SVC_DIR/$s" ] || continue
      find "$(readlink -f "$SVC_DIR/$s")" -mindepth 1 -maxdepth 1 ! -name lib ! -name dist ! -name home ! -name maven.log -exec rm -rf {} +
    done
    log "service data deleted under $SVC_DIR" ;;
  *) echo "usage: $0 up|down|status [${ALL[*]}] | env | clean" >&2; exit 2 ;;
esac
