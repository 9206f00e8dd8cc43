#!/usr/bin/env bash
# scripts/stack.sh up|down|status|restart kafka|restart clickhouse
#
# Brings up the real backing services rollgate's tests talk to, on a plain
# Debian bookworm machine (root, no systemd, no Docker):
#
#   Kafka 4.4.0 (KRaft, single node)  127.0.0.1:9092   started & owned by us
#   ClickHouse (Debian's 18.16)       127.0.0.1:8123   started & owned by us
#   MariaDB                           127.0.0.1:3306   machine's; started if down;
#                                                      restarted once to turn on
#                                                      the row-based binlog (CDC)
#   Redis                             127.0.0.1:6379   machine's; started if down
#
#   up      idempotent; a second call with everything running returns in about
#           a second and restarts nothing. Ends by printing `export VAR=...`
#           lines on stdout -- and ONLY those: all progress goes to stderr, so
#               eval "$(scripts/stack.sh up)"
#           works. Safe to call concurrently (serialised by an flock).
#   down    stops what this script started (Kafka, ClickHouse); leaves the
#           machine's MariaDB and Redis running because other things use them.
#   status  one line per service; exit 0 when all are up, 1 otherwise.
#   restart kafka|clickhouse
#           stop and start one service this checkout started (failure tests).
#
# All state (download cache, data, logs, pid files) lives in <repo>/.stack/,
# which is git-ignored: `scripts/stack.sh down && rm -rf .stack` is a full
# reset.
#
# Only Maven Central, Debian's apt and npm are reachable from the machines
# this runs on, hence Kafka is assembled from Maven Central jars (see
# scripts/kafka/pom.xml) instead of the usual release tarball.

set -euo pipefail

# ---------------------------------------------------------------------------
# Paths. Derived from the script's own location so that it works from any cwd
# (tests and CI call it from different places).
# ---------------------------------------------------------------------------
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
STACK=$ROOT/.stack
LOCK_FILE=$STACK/stack.lock

KAFKA_SRC=$SCRIPT_DIR/kafka
KAFKA_DIR=$STACK/kafka
KAFKA_LIBS=$KAFKA_DIR/libs
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_LOGS=$KAFKA_DIR/logs
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_PROPS=$KAFKA_DIR/server.properties
KAFKA_LOG4J=$KAFKA_DIR/log4j2.xml
KAFKA_TOOLS_LOG4J=$KAFKA_DIR/tools-log4j2.xml
# The broker version the data was formatted by, and the one the running broker was started from.
KAFKA_DATA_VERSION=$KAFKA_DIR/data.version
KAFKA_RUNNING_VERSION=$KAFKA_DIR/running.version
KAFKA_CLUSTER_ID=$KAFKA_DIR/cluster.id
KAFKA_LOG_OFFSET=$KAFKA_DIR/server.log.offset
KAFKA_PORT=9092

CH_SRC=$SCRIPT_DIR/clickhouse
CH_DIR=$STACK/clickhouse
CH_ETC=$CH_DIR/etc
CH_LOGS=$CH_DIR/logs
CH_PID=$CH_DIR/clickhouse.pid
CH_HTTP=http://127.0.0.1:8123

MYSQL_DB=rollgate
# The drop-in option file that turns on the row-based binlog for `rollgate cdc`.
MYSQL_BINLOG_CNF=60-rollgate-binlog.cnf

# Time budgets (seconds).
KAFKA_START_TIMEOUT=60
CH_START_TIMEOUT=60
MYSQL_START_TIMEOUT=30
REDIS_START_TIMEOUT=15
STOP_TIMEOUT=30

# ---------------------------------------------------------------------------
# Output discipline: keep the caller's stdout on fd 3 and point fd 1 at
# stderr for the rest of the script. Then no stray command output (apt, mvn,
# mysql ...) can end up inside `eval "$(stack.sh up)"`; only `out` writes to
# the real stdout.
# ---------------------------------------------------------------------------
exec 3>&1 1>&2

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }
out() { printf '%s\n' "$*" >&3; }

# Long-lived processes we spawn must not inherit fd 3 (the caller's stdout
# pipe: `$(stack.sh up)` would never see EOF and hang) nor fd 9 (the lock:
# the next `up` would wait for the daemon to exit). Every daemon launch
# below therefore ends in `3>&- 9>&-`.

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

# True when something accepts TCP connections on 127.0.0.1:$1. Pure bash so
# it needs no nc/ss and costs no fork of an external tool. `timeout` guards
# against a connect that hangs instead of being refused.
port_open() {
  timeout 2 bash -c "exec 6<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pid_running PIDFILE PATTERN: the pid in PIDFILE is alive AND its command
# line contains PATTERN. The pattern check matters because pids get reused:
# after a reboot/container restart a stale pid file may name an unrelated
# process, which we must neither trust nor kill.
pid_running() {
  local pidfile=$1 pattern=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$pattern"* ]]
}

# Renders a template by replacing @KEY@ tokens. Written to a temp file and
# renamed so a reader never sees a half-written config.
render() {
  local src=$1 dst=$2; shift 2
  local expr=() kv val
  for kv in "$@"; do
    val=${kv#*=}
    # Escape what sed treats specially in a replacement (\ & and the '#'
    # delimiter, chosen because the values are paths full of '/'), so a
    # checkout under an odd directory name still renders correctly.
    val=${val//\\/\\\\}; val=${val//&/\\&}; val=${val//#/\\#}
    expr+=(-e "s#@${kv%%=*}@#${val}#g")
  done
  sed "${expr[@]}" "$src" >"$dst.tmp"
  mv -f "$dst.tmp" "$dst"
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

# spawn_detached PIDFILE LOGFILE CMD...: start a long-lived server that
# outlives this script. setsid gives it its own session, so it survives the
# calling shell / test runner and isn't hit by their Ctrl-C. The inner shell
# writes its own pid and then exec's CMD, so PIDFILE names the server itself
# whether or not setsid had to fork. stdin/stdout/stderr and fds 3/9 are
# detached (see above) so `$(stack.sh up)` and the lock are released.
spawn_detached() {
  local pidfile=$1 logfile=$2 i; shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ / $1 / $@ are for the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" nohup "$@" \
    </dev/null >>"$logfile" 2>&1 3>&- 9>&- &
  for ((i = 0; i < 50; i++)); do [[ -s $pidfile ]] && return 0; sleep 0.1; done
  die "could not start: $*"
}

APT_UPDATED=0
# apt_install PKG...: installs Debian packages without letting their
# maintainer scripts start the distro's own service. Without systemd,
# postinst falls back to invoke-rc.d/init.d, which would e.g. launch a second
# ClickHouse on 8123/9000 with /etc/clickhouse-server's config and make ours
# fail with "address in use". A policy-rc.d that exits 101 is Debian's
# documented way to veto that; we only add one if the machine has none.
apt_install() {
  log "installing Debian packages: $*"
  if (( ! APT_UPDATED )); then
    as_root apt-get update -q 3>&- 9>&- || die "apt-get update failed"
    APT_UPDATED=1
  fi
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, added by rollgate scripts/stack.sh\nexit 101\n' |
      as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@" 3>&- 9>&- || rc=$?
  if (( added_policy )); then as_root rm -f "$policy"; fi
  (( rc == 0 )) || die "apt-get install $* failed (exit $rc)"
}

# need_cmd CMD PKG: install PKG if CMD is not on PATH.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

JAVA=java
if [[ -n ${JAVA_HOME:-} && -x ${JAVA_HOME}/bin/java ]]; then JAVA=$JAVA_HOME/bin/java; fi

# stop_pidfile NAME PIDFILE PATTERN: TERM, wait up to STOP_TIMEOUT, KILL.
# Graceful first because both Kafka and ClickHouse flush/close their data
# files on TERM; a KILLed Kafka needs log recovery on the next start.
stop_pidfile() {
  local name=$1 pidfile=$2 pattern=$3 pid i
  if ! pid_running "$pidfile" "$pattern"; then
    log "$name: not running (no live process from $pidfile)"
    rm -f "$pidfile"
    return 0
  fi
  pid=$(<"$pidfile")
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after ${STOP_TIMEOUT}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  kill -0 "$pid" 2>/dev/null && die "$name: pid $pid did not exit"
  rm -f "$pidfile"
  log "$name: stopped"
}

# ---------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------

kafka_running() { pid_running "$KAFKA_PID" kafka.Kafka; }

# Fetch the broker jars from Maven Central into .stack/kafka/libs. Keyed on
# the pom's checksum so editing the pom (e.g. a version bump) re-resolves,
# while an unchanged pom costs one sha256sum.
kafka_resolve_jars() {
  local pom=$KAFKA_SRC/pom.xml marker=$KAFKA_LIBS/.resolved sum
  sum=$(sha256sum "$pom" | cut -d' ' -f1)
  if [[ -f $marker && $(<"$marker") == "$sum" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  need_cmd mvn maven
  log "kafka: resolving broker jars from Maven Central (first run only)"
  # Resolve into a scratch folder and swap it in, so an interrupted or failed
  # download never leaves a half-populated libs/ that looks complete.
  local tmp=$KAFKA_DIR/libs.tmp
  rm -rf "$tmp"
  # Output goes to a file and is shown only on failure: even with -q,
  # Debian's Maven prints stray ANSI escape codes.
  if ! mvn -q -B -ntp -f "$pom" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime \
    </dev/null >"$KAFKA_LOGS/mvn.log" 2>&1 3>&- 9>&-; then
    tail -n 40 "$KAFKA_LOGS/mvn.log" >&2
    die "kafka: mvn dependency:copy-dependencies failed (full output: $KAFKA_LOGS/mvn.log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "kafka: kafka_2.13 jar missing after resolve"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  printf '%s\n' "$sum" >"$marker"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
}

kafka_render_config() {
  render "$KAFKA_SRC/server.properties.tmpl" "$KAFKA_PROPS" "KAFKA_DATA_DIR=$KAFKA_DATA"
  render "$KAFKA_SRC/log4j2.xml.tmpl" "$KAFKA_LOG4J" "KAFKA_LOG_DIR=$KAFKA_LOGS"
  # The one-shot CLI tools (StorageTool) log through the same log4j2; send
  # only warnings to stderr so their real output stays readable.
  cat >"$KAFKA_TOOLS_LOG4J" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
}

# The broker version scripts/kafka/pom.xml asks for.
kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_SRC/pom.xml" | head -n 1
}

# Data written by another broker version is wiped (it is test data): a newer
# broker may refuse an older metadata log, and an older one a newer log
# outright. The cluster id is kept, so the storage is formatted again with it.
kafka_check_data_version() {
  local want=$1 had
  had=$(cat "$KAFKA_DATA_VERSION" 2>/dev/null || echo "3.x")
  if [[ -d $KAFKA_DATA && $had != "$want" ]]; then
    log "kafka: data was written by broker $had; wiping it for $want"
    rm -rf "$KAFKA_DATA"
  fi
}

kafka_tool() {
  "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" \
    -cp "$KAFKA_LIBS/*" "$@" 3>&- 9>&-
}

# KRaft needs its storage formatted with a cluster id exactly once; formatting
# again would wipe nothing but would fail/complain, so meta.properties (written
# by format) is the "already done" marker. The id is kept next to the data so
# a wiped data dir is re-formatted with the same id.
kafka_format_storage() {
  [[ -f $KAFKA_DATA/meta.properties ]] && return 0
  if [[ ! -s $KAFKA_CLUSTER_ID ]]; then
    kafka_tool kafka.tools.StorageTool random-uuid | tr -d '[:space:]' >"$KAFKA_CLUSTER_ID.tmp"
    [[ -s $KAFKA_CLUSTER_ID.tmp ]] || die "kafka: could not generate a cluster id"
    mv "$KAFKA_CLUSTER_ID.tmp" "$KAFKA_CLUSTER_ID"
  fi
  log "kafka: formatting KRaft storage (cluster id $(<"$KAFKA_CLUSTER_ID"))"
  mkdir -p "$KAFKA_DATA"
  kafka_tool kafka.tools.StorageTool format --ignore-formatted \
    -t "$(<"$KAFKA_CLUSTER_ID")" -c "$KAFKA_PROPS" >&2 ||
    die "kafka: storage format failed"
}

kafka_log_tail() {
  log "---- tail of $KAFKA_LOGS/server.log ----"
  tail -n 40 "$KAFKA_LOGS/server.log" >&2 2>/dev/null || true
  log "---- tail of $KAFKA_LOGS/stdout.log ----"
  tail -n 20 "$KAFKA_LOGS/stdout.log" >&2 2>/dev/null || true
}

# Ready = the JVM is alive, :9092 accepts, and the broker logged
# "Kafka Server started" since this launch. The port alone is not enough:
# KRaft binds the listener before the broker has caught up with the metadata
# log, and early clients then see timeouts. We only read the log written after
# our own launch (offset saved at start) so an old "started" line from a
# previous run does not count.
kafka_wait_ready() {
  local log_file=$KAFKA_LOGS/server.log offset=0 deadline=$((SECONDS + KAFKA_START_TIMEOUT)) size
  [[ -s $KAFKA_LOG_OFFSET ]] && offset=$(<"$KAFKA_LOG_OFFSET")
  while ((SECONDS < deadline)); do
    if ! kafka_running; then
      kafka_log_tail
      die "kafka: broker process exited during startup"
    fi
    if port_open "$KAFKA_PORT" && [[ -f $log_file ]]; then
      size=$(stat -c %s "$log_file")
      # The appender rolled over meanwhile: the whole current file is new.
      ((size < offset)) && offset=0
      # Process substitution, not a pipe: with pipefail, `tail | grep -q`
      # reports tail's SIGPIPE as failure exactly when grep found the line.
      if grep -qF 'Kafka Server started' < <(tail -c +"$((offset + 1))" "$log_file"); then
        return 0
      fi
    fi
    sleep 0.5
  done
  kafka_log_tail
  die "kafka: not ready after ${KAFKA_START_TIMEOUT}s"
}

kafka_up() {
  mkdir -p "$KAFKA_DIR" "$KAFKA_LOGS"
  local want running
  want=$(kafka_version)
  [[ -n $want ]] || die "kafka: no <kafka.version> in $KAFKA_SRC/pom.xml"
  # A broker this checkout started from an older pom keeps running across
  # `git pull`: replace it, or tests would run against the old version.
  running=$(cat "$KAFKA_RUNNING_VERSION" 2>/dev/null || echo "an older version")
  if kafka_running && [[ $running != "$want" ]]; then
    log "kafka: running broker is $running, not $want; restarting it"
    stop_pidfile kafka "$KAFKA_PID" kafka.Kafka
  fi
  if kafka_running; then
    if port_open "$KAFKA_PORT"; then
      log "kafka: already running (pid $(<"$KAFKA_PID"))"
      return 0
    fi
    # Ours but not yet listening: a previous `up` was interrupted while the
    # broker was starting. Wait for it instead of starting a second one.
    log "kafka: pid $(<"$KAFKA_PID") is starting; waiting"
    kafka_wait_ready
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    # Not ours (e.g. a developer's own broker). Don't fight over the port.
    log "kafka: 127.0.0.1:$KAFKA_PORT is served by a process this script did not start; using it as is"
    return 0
  fi
  rm -f "$KAFKA_PID"

  need_cmd "$JAVA" openjdk-17-jre-headless
  kafka_resolve_jars
  kafka_render_config
  kafka_check_data_version "$want"
  kafka_format_storage
  printf '%s\n' "$want" >"$KAFKA_DATA_VERSION"

  local log_file=$KAFKA_LOGS/server.log
  if [[ -f $log_file ]]; then stat -c %s "$log_file" >"$KAFKA_LOG_OFFSET"; else echo 0 >"$KAFKA_LOG_OFFSET"; fi

  log "kafka: starting broker on 127.0.0.1:$KAFKA_PORT"
  # Heap: 1 GiB is plenty for a test broker; the machine (2 cores, 24 GiB) is
  # shared with ClickHouse, MariaDB and the test JVMs/node processes.
  spawn_detached "$KAFKA_PID" "$KAFKA_LOGS/stdout.log" \
    "$JAVA" -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
  printf '%s\n' "$want" >"$KAFKA_RUNNING_VERSION"
  kafka_wait_ready
  log "kafka: $want ready (pid $(<"$KAFKA_PID"))"
}

# ---------------------------------------------------------------------------
# ClickHouse
# ---------------------------------------------------------------------------

CH_CMD=()
# Debian's package ships /usr/sbin/clickhouse-server; upstream packages ship
# /usr/bin/clickhouse-server or the multi-call /usr/bin/clickhouse.
ch_find_binary() {
  local b
  for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    if [[ -x $b ]]; then CH_CMD=("$b"); return 0; fi
  done
  if [[ -x /usr/bin/clickhouse ]]; then CH_CMD=(/usr/bin/clickhouse server); return 0; fi
  return 1
}

ch_ping() { [[ $(curl -s --max-time 2 "$CH_HTTP/ping" 2>/dev/null) == "Ok." ]]; }
ch_running() { pid_running "$CH_PID" clickhouse; }

ch_log_tail() {
  log "---- tail of $CH_LOGS/clickhouse-server.log ----"
  tail -n 40 "$CH_LOGS/clickhouse-server.log" >&2 2>/dev/null || true
  log "---- tail of $CH_LOGS/clickhouse-server.err.log ----"
  tail -n 20 "$CH_LOGS/clickhouse-server.err.log" >&2 2>/dev/null || true
  log "---- tail of $CH_LOGS/stdout.log ----"
  tail -n 20 "$CH_LOGS/stdout.log" >&2 2>/dev/null || true
}

ch_wait_ready() {
  local deadline=$((SECONDS + CH_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    ch_ping && return 0
    if ! ch_running; then
      ch_log_tail
      die "clickhouse: server process exited during startup"
    fi
    sleep 0.5
  done
  ch_log_tail
  die "clickhouse: no 'Ok.' from $CH_HTTP/ping after ${CH_START_TIMEOUT}s"
}

clickhouse_up() {
  need_cmd curl curl
  mkdir -p "$CH_DIR" "$CH_LOGS"
  if ch_ping; then
    if ch_running; then
      log "clickhouse: already running (pid $(<"$CH_PID"))"
    else
      log "clickhouse: $CH_HTTP is served by a process this script did not start; using it as is"
    fi
    return 0
  fi
  if ch_running; then
    log "clickhouse: pid $(<"$CH_PID") is starting; waiting"
    ch_wait_ready
    return 0
  fi
  rm -f "$CH_PID"

  if ! ch_find_binary; then
    apt_install clickhouse-server clickhouse-client
    ch_find_binary || die "clickhouse: no server binary after installing clickhouse-server"
  fi

  # Our own config, rendered with absolute paths into .stack: the package's
  # /etc config keeps data in /var/lib/clickhouse (clickhouse-owned, outside
  # the project) with 13 GiB of caches and a warning-only log.
  # Rendered only here (before a start), never while a server runs, because
  # ClickHouse watches its config files and hot-reloads them.
  mkdir -p "$CH_ETC" "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/user_files" "$CH_DIR/format_schemas"
  render "$CH_SRC/config.xml" "$CH_ETC/config.xml" "CH_DIR=$CH_DIR"
  render "$CH_SRC/users.xml" "$CH_ETC/users.xml" "CH_DIR=$CH_DIR"

  # 18.16 runs fine as root (the "effective user must own the data" check
  # only arrived in later releases), so we run as whoever calls us and the
  # data stays owned by that user -- no chown dance, `rm -rf .stack` works.
  log "clickhouse: starting server on 127.0.0.1:8123 (http) / 127.0.0.1:9000 (native)"
  spawn_detached "$CH_PID" "$CH_LOGS/stdout.log" \
    "${CH_CMD[@]}" --config-file="$CH_ETC/config.xml"
  ch_wait_ready
  log "clickhouse: ready (pid $(<"$CH_PID"))"
}

ch_verify() {
  local v
  v=$(curl -sf --max-time 5 "$CH_HTTP/?query=SELECT%20version()") ||
    die "clickhouse: SELECT version() failed"
  log "clickhouse: version $v"
}

# ---------------------------------------------------------------------------
# MariaDB (the machine's own server; we only make sure it runs)
# ---------------------------------------------------------------------------

mysql_ping() { mysqladmin -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

# The machine's documented start command, detached by start-stop-daemon;
# my.cnf's `user = mysql` makes the server drop root itself.
mariadb_start() {
  # Without systemd nothing creates the socket directory on a fresh boot.
  [[ -d /run/mysqld ]] || as_root install -d -o mysql -g mysql /run/mysqld
  as_root start-stop-daemon --start --oknodo --background \
    --exec /usr/sbin/mariadbd 3>&- 9>&- </dev/null >/dev/null 2>&1 ||
    die "mariadb: start-stop-daemon failed"
  local deadline=$((SECONDS + MYSQL_START_TIMEOUT))
  until mysql_ping; do
    ((SECONDS < deadline)) || die "mariadb: not answering after ${MYSQL_START_TIMEOUT}s (see /var/log/mysql/error.log)"
    sleep 0.5
  done
}

mariadb_up() {
  if ! command -v mysqladmin >/dev/null 2>&1 || [[ ! -x /usr/sbin/mariadbd ]]; then
    apt_install mariadb-server mariadb-client
  fi
  if mysql_ping; then
    log "mariadb: already running"
  else
    log "mariadb: not answering; starting /usr/sbin/mariadbd"
    mariadb_start
    log "mariadb: started"
  fi

  # MYSQL_URL promises password-less root over TCP. Machines of this kind come
  # configured that way; a freshly apt-installed MariaDB only allows root via
  # the unix socket, so grant the TCP login there (loopback only).
  if ! mysql -h127.0.0.1 -P3306 -uroot --connect-timeout=2 -e 'SELECT 1' >/dev/null 2>&1; then
    log "mariadb: enabling password-less root@127.0.0.1 (fresh install)"
    mysql -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
                     GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
                     FLUSH PRIVILEGES;" || die "mariadb: could not grant root@127.0.0.1"
  fi
  mysql -uroot -e "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DB\`" ||
    die "mariadb: CREATE DATABASE $MYSQL_DB failed"
  mariadb_binlog
}

# ---------------------------------------------------------------------------
# MariaDB binlog for change-data capture (`rollgate cdc`, seed 002)
#
# MariaDB ships with the binlog off and binlog_format=MIXED; CDC needs
# log_bin, binlog_format=ROW, binlog_row_image=FULL and a non-zero server_id.
# log_bin cannot be turned on in a running server, so the settings go into a
# drop-in .cnf and the server is restarted -- but only when the RUNNING server
# lacks them, so every later `up` restarts nothing. Other test runs share this
# server: a restart drops their connections for a few seconds, which is why it
# happens at most once per machine.
# ---------------------------------------------------------------------------

# True when the running server already logs full row images.
mariadb_binlog_ok() {
  local row log_bin format image server_id
  row=$(mysql -uroot -N -B -e \
    "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, @@GLOBAL.server_id" 2>/dev/null) ||
    return 1
  read -r log_bin format image server_id <<<"$row"
  [[ $log_bin == 1 && $format == ROW && $image == FULL && $server_id =~ ^[1-9][0-9]*$ ]]
}

# Prints the directory the server reads drop-in option files from: the last
# `!includedir` of the option files mariadbd reads (Debian's stock my.cnf
# names /etc/mysql/conf.d/ and /etc/mysql/mariadb.conf.d/). A my.cnf without
# one gets `!includedir /etc/mysql/conf.d/` appended, as Debian's stock one has.
mariadb_conf_dir() {
  local file dir="" found
  for file in /etc/my.cnf /etc/mysql/my.cnf; do
    [[ -f $file ]] || continue
    found=$(sed -n 's/^[[:space:]]*!includedir[[:space:]]\{1,\}\([^[:space:]]*\).*$/\1/p' "$file" | tail -n 1)
    [[ -n $found ]] && dir=$found
  done
  if [[ -z $dir ]]; then
    local cnf=/etc/mysql/my.cnf
    [[ -f $cnf ]] || cnf=/etc/my.cnf
    dir=/etc/mysql/conf.d/
    log "mariadb: $cnf names no drop-in directory; appending !includedir $dir"
    printf '\n# Added by rollgate scripts/stack.sh: read drop-in option files.\n!includedir %s\n' "$dir" |
      as_root tee -a "$cnf" >/dev/null || die "mariadb: could not append !includedir to $cnf"
  fi
  as_root mkdir -p "$dir" || die "mariadb: could not create $dir"
  printf '%s\n' "${dir%/}"
}

# Stops the server gracefully (InnoDB flushes, the binlog closes), waits for
# its process to exit, and starts it the way mariadb_up does.
mariadb_restart() {
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl restart mariadb || die "mariadb: systemctl restart mariadb failed"
  else
    local pid="" i
    [[ -s /run/mysqld/mysqld.pid ]] && pid=$(</run/mysqld/mysqld.pid)
    mysqladmin -uroot shutdown || die "mariadb: mysqladmin shutdown failed"
    if [[ $pid =~ ^[0-9]+$ ]]; then
      for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill -0 "$pid" 2>/dev/null && die "mariadb: pid $pid still running ${STOP_TIMEOUT}s after shutdown"
    fi
    mariadb_start
  fi
  local deadline=$((SECONDS + MYSQL_START_TIMEOUT))
  until mysql_ping; do
    ((SECONDS < deadline)) || die "mariadb: not answering ${MYSQL_START_TIMEOUT}s after the restart"
    sleep 0.5
  done
}

mariadb_binlog() {
  if mariadb_binlog_ok; then
    log "mariadb: row-based binlog on"
    return 0
  fi
  local dir cnf server_id defaults
  dir=$(mariadb_conf_dir)
  cnf=$dir/$MYSQL_BINLOG_CNF
  # Keep the server's own id when it has one (replication may depend on it);
  # 0 would make the server refuse binlog readers.
  server_id=$(mysql -uroot -N -B -e 'SELECT @@GLOBAL.server_id' 2>/dev/null) || server_id=1
  [[ $server_id =~ ^[1-9][0-9]*$ ]] || server_id=1
  log "mariadb: the binlog is not row-based with full images; writing $cnf and restarting the server once"
  {
    printf '# Written by rollgate scripts/stack.sh: the row-based binlog that\n'
    printf '# `rollgate cdc` reads (seed 002 lists the same settings).\n'
    printf '[mysqld]\n'
    printf 'log_bin = mysql-bin\n'
    printf 'binlog_format = ROW\n'
    printf 'binlog_row_image = FULL\n'
    printf 'server_id = %s\n' "$server_id"
    printf '# Bounds disk use on long-lived machines; a CDC offset older than this\n'
    printf '# needs a new snapshot.\n'
    printf 'expire_logs_days = 7\n'
  } | as_root tee "$cnf.tmp" >/dev/null || die "mariadb: could not write $cnf"
  as_root chmod 644 "$cnf.tmp"
  as_root mv -f "$cnf.tmp" "$cnf"
  # The server must read the drop-in, or the restart would be wasted.
  defaults=$(/usr/sbin/mariadbd --print-defaults 2>/dev/null) || die "mariadb: mariadbd --print-defaults failed"
  [[ $defaults == *--binlog_format=ROW* ]] ||
    die "mariadb: the server does not read $cnf (mariadbd --print-defaults: $defaults)"
  mariadb_restart
  mariadb_binlog_ok ||
    die "mariadb: the binlog is still not row-based after the restart; see $cnf and /var/log/mysql/error.log"
  log "mariadb: restarted with the row-based binlog"
}

# ---------------------------------------------------------------------------
# Redis (the machine's own server; we only make sure it runs)
# ---------------------------------------------------------------------------

redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]; }

redis_up() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server
  fi
  if redis_ping; then
    log "redis: already running"
    return 0
  fi
  log "redis: not answering; starting redis-server"
  as_root install -d /var/lib/redis
  [[ -d /var/log/redis ]] || as_root install -d /var/log/redis
  # The machine's documented start command: nothing persisted, loopback only.
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
    --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    </dev/null 3>&- 9>&- || die "redis: redis-server failed to start"
  local deadline=$((SECONDS + REDIS_START_TIMEOUT))
  until redis_ping; do
    ((SECONDS < deadline)) || die "redis: not answering after ${REDIS_START_TIMEOUT}s"
    sleep 0.2
  done
  log "redis: started"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

# Serialise up/down: two test processes calling `up` at once must not both
# download, format or start a broker. The second waits, then takes the fast
# path.
take_lock() {
  mkdir -p "$STACK"
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    log "another stack.sh holds $LOCK_FILE; waiting"
    flock -w 900 9 || die "timed out waiting for $LOCK_FILE"
  fi
}

cmd_up() {
  take_lock
  local t0=$SECONDS
  # Machine services first: they are usually already up, and fail fast.
  mariadb_up
  redis_up
  # The browser tests drive Debian's chromium through playwright-core; no browser is ever downloaded.
  need_cmd chromium chromium
  # Seed 002's regions are Chinese city names: the dashboard's screenshots need a CJK font to show them.
  [[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || apt_install fonts-wqy-microhei
  # The DataFlow tests run seed 000's Python script as written: python3 with requests.
  python3 -c 'import requests' >/dev/null 2>&1 || apt_install python3 python3-requests
  clickhouse_up
  kafka_up
  ch_verify
  log "all services up (${SECONDS}s; $((SECONDS - t0))s after lock)"
  out "export KAFKA_BROKERS=127.0.0.1:9092"
  out "export CLICKHOUSE_URL=http://127.0.0.1:8123"
  out "export MYSQL_URL=mysql://root@127.0.0.1:3306/$MYSQL_DB"
  out "export REDIS_URL=redis://127.0.0.1:6379"
}

cmd_down() {
  take_lock
  # Kafka first: it is the one most likely to take a while (controlled
  # shutdown), and nothing depends on ClickHouse being up for it.
  stop_pidfile kafka "$KAFKA_PID" kafka.Kafka
  stop_pidfile clickhouse "$CH_PID" clickhouse
  log "mariadb and redis belong to the machine; left running"
}

# restart kafka|clickhouse: for failure tests. Only what this checkout started
# can be restarted; a service some other process started is left alone.
cmd_restart() {
  local service=${1:-}
  take_lock
  case "$service" in
    kafka)
      kafka_running || die "kafka: not started by this checkout ($KAFKA_PID); cannot restart it"
      stop_pidfile kafka "$KAFKA_PID" kafka.Kafka
      kafka_up
      ;;
    clickhouse)
      ch_running || die "clickhouse: not started by this checkout ($CH_PID); cannot restart it"
      stop_pidfile clickhouse "$CH_PID" clickhouse
      clickhouse_up
      ;;
    *) die "restart takes kafka or clickhouse" ;;
  esac
  log "$service: restarted"
}

cmd_status() {
  # No lock: read-only, and must answer even while an `up` is in progress.
  local all=0 state note
  status_line() { printf '%-11s %-5s %-22s %s\n' "$1" "$2" "$3" "$4" >&3; }

  note=""
  if kafka_running; then note="pid $(<"$KAFKA_PID")"; fi
  if port_open "$KAFKA_PORT"; then state=up; [[ -n $note ]] || note="not started by stack.sh"
  else state=down; all=1; fi
  status_line kafka "$state" "127.0.0.1:$KAFKA_PORT" "$note"

  note=""
  if ch_running; then note="pid $(<"$CH_PID")"; fi
  if command -v curl >/dev/null 2>&1 && ch_ping; then state=up; [[ -n $note ]] || note="not started by stack.sh"
  else state=down; all=1; fi
  status_line clickhouse "$state" "127.0.0.1:8123" "$note"

  if command -v mysqladmin >/dev/null 2>&1 && mysql_ping; then state=up; else state=down; all=1; fi
  status_line mariadb "$state" "127.0.0.1:3306" "machine service"

  if command -v redis-cli >/dev/null 2>&1 && redis_ping; then state=up; else state=down; all=1; fi
  status_line redis "$state" "127.0.0.1:6379" "machine service"

  return "$all"
}

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart) cmd_restart "${2:-}" ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
