#!/usr/bin/env bash
# A throwaway RabbitMQ cluster on this machine, for tests (docs/development.md): N nodes (default 3)
# of the locally installed rabbitmq-server, each with its own node name, AMQP port, distribution
# port, configuration and data/log/pid files under one folder, run as the `rabbitmq` user (whose
# ~/.erlang.cookie every node and every rabbitmqctl call here share), joined with join_cluster.
# It never touches the machine's own node (rabbit@…, port 5672) nor the shared epmd.
#
#   scripts/rabbitmq-cluster.sh start            start every node and join them (idempotent)
#   scripts/rabbitmq-cluster.sh stop             stop every node and remove the folder (idempotent)
#   scripts/rabbitmq-cluster.sh status           each node, its port and pid, and the running members
#   scripts/rabbitmq-cluster.sh urls             the RABBITMQ_URL of the cluster (comma-separated)
#   scripts/rabbitmq-cluster.sh dir              the cluster's folder (node i's logs: <dir>/c<i>/log)
#   scripts/rabbitmq-cluster.sh kill <node>      SIGKILL a node (a crash: no clean shutdown); prints
#                                                when (epoch ms) the signal was sent
#   scripts/rabbitmq-cluster.sh restart <node>   start a node again (stopping it first if it runs)
#   scripts/rabbitmq-cluster.sh ctl <node> …     rabbitmqctl against a node, e.g. `ctl 1 list_queues`
#   scripts/rabbitmq-cluster.sh queues <node> …  rabbitmq-queues against a node, e.g. `queues 1 quorum_status q`
#   scripts/rabbitmq-cluster.sh leaders          every quorum queue with its leader and members (JSON)
#   scripts/rabbitmq-cluster.sh lead <queue> <node>   make <node> the leader of quorum queue <queue>
#
# <node> is a number (1…N) or a node name (otp-c1@localhost). Settings, all optional:
#   RMQ_CLUSTER_DIR   the folder of the whole cluster (default ${TMPDIR:-/tmp}/otp-rabbitmq-cluster)
#   RMQ_CLUSTER_SIZE  the number of nodes (default 3)
#   RMQ_CLUSTER_PORT  the first node's AMQP port (default 5701; node i listens on PORT+i-1 and
#                     uses PORT+20000+i-1 for the Erlang distribution)
# Runs as root (through runuser) or as the rabbitmq user.
set -euo pipefail

DIR="${RMQ_CLUSTER_DIR:-${TMPDIR:-/tmp}/otp-rabbitmq-cluster}"
SIZE="${RMQ_CLUSTER_SIZE:-3}"
PORT="${RMQ_CLUSTER_PORT:-5701}"
RABBIT_HOME="$(getent passwd rabbitmq | cut -d: -f6 || true)"
RABBIT_BIN=/usr/lib/rabbitmq/bin
START_TIMEOUT_S=120

die() {
  echo "rabbitmq-cluster: $*" >&2
  exit 1
}
say() { echo "rabbitmq-cluster: $*" >&2; }

[[ "$SIZE" =~ ^[1-9]$ ]] || die "RMQ_CLUSTER_SIZE must be 1 to 9, got '$SIZE'"
# Each node's distribution port is PORT + 20000 + i - 1, and the command-line tools take theirs 10000
# to 10010 above it: all of them must stay ports.
[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT > 1024 && PORT + SIZE + 30010 <= 65535)) ||
  die "RMQ_CLUSTER_PORT must be from 1025 to $((65535 - 30010 - SIZE)), got '$PORT'"
[ -n "$RABBIT_HOME" ] || die "no rabbitmq user: install the rabbitmq-server package"
[ -x "$RABBIT_BIN/rabbitmq-server" ] || die "no $RABBIT_BIN/rabbitmq-server: install the rabbitmq-server package"

name_of() { echo "otp-c$1@localhost"; }
amqp_port() { echo $((PORT + $1 - 1)); }
dist_port() { echo $((PORT + 20000 + $1 - 1)); }
node_dir() { echo "$DIR/c$1"; }
pid_file() { echo "$(node_dir "$1")/rabbit.pid"; }

# A node argument (2, otp-c2, otp-c2@localhost) as its number.
index_of() {
  local arg="${1:-}" i
  for ((i = 1; i <= SIZE; i++)); do
    if [ "$arg" = "$i" ] || [ "$arg" = "$(name_of "$i")" ] || [ "$arg" = "otp-c$i" ]; then
      echo "$i"
      return
    fi
  done
  die "no node '$arg' (1…$SIZE or otp-c1@localhost…)"
}

# Runs a command as the rabbitmq user, with only the environment given (plus PATH, HOME, locale):
# the cookie comes from the rabbitmq user's home, and nothing of the caller's RABBITMQ_* leaks in.
as_rabbitmq() {
  local base=(env -i "PATH=/usr/sbin:/usr/bin:/sbin:/bin" "HOME=$RABBIT_HOME" "LANG=C.UTF-8" "LC_ALL=C.UTF-8")
  if [ "$(id -u)" = "$(id -u rabbitmq)" ]; then
    "${base[@]}" "$@"
  elif [ "$(id -u)" = 0 ]; then
    runuser -u rabbitmq -- "${base[@]}" "$@"
  elif command -v sudo > /dev/null && sudo -n -u rabbitmq true 2> /dev/null; then
    sudo -n -u rabbitmq -- "${base[@]}" "$@"
  else
    die "run as root or as the rabbitmq user (or with password-less sudo to rabbitmq)"
  fi
}

# The environment of node i's server and of every CLI call aimed at it. The own env file keeps
# /etc/rabbitmq/rabbitmq-env.conf (the machine's node's NODENAME and ports) out.
node_env() {
  local i=$1 d
  d="$(node_dir "$i")"
  echo "RABBITMQ_NODENAME=$(name_of "$i")"
  echo "RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf"
  echo "RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf"
  echo "RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config"
  echo "RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins"
  echo "RABBITMQ_MNESIA_BASE=$d/mnesia"
  echo "RABBITMQ_LOG_BASE=$d/log"
  echo "RABBITMQ_PID_FILE=$(pid_file "$i")"
  echo "RABBITMQ_NODE_PORT=$(amqp_port "$i")"
  echo "RABBITMQ_DIST_PORT=$(dist_port "$i")"
  echo "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
}

cli() {
  local i=$1 tool=$2
  shift 2
  local envs=()
  mapfile -t envs < <(node_env "$i")
  as_rabbitmq "${envs[@]}" "$RABBIT_BIN/$tool" -n "$(name_of "$i")" "$@"
}

pid_of() {
  local f
  f="$(pid_file "$1")"
  [ -s "$f" ] || return 1
  local pid
  pid="$(tr -dc 0-9 < "$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null && [ "$(ps -o user= -p "$pid" | tr -d ' ')" = rabbitmq ] || return 1
  echo "$pid"
}

port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

running() { pid_of "$1" > /dev/null && cli "$1" rabbitmqctl -q ping > /dev/null 2>&1; }

write_files() {
  local i=$1 d
  d="$(node_dir "$i")"
  mkdir -p "$d/mnesia" "$d/log"
  : > "$d/rabbitmq-env.conf"
  echo "[]." > "$d/enabled_plugins"
  cat > "$d/rabbitmq.conf" << EOF
# Node $(name_of "$i") of the test cluster (scripts/rabbitmq-cluster.sh).
listeners.tcp.1 = 127.0.0.1:$(amqp_port "$i")
cluster_name = otp-test-cluster
# Spread the quorum queues' leaders over the nodes instead of the declaring client's node.
queue_leader_locator = balanced
cluster_partition_handling = pause_minority
disk_free_limit.absolute = 100MB
log.console = false
log.file.level = info
EOF
  chown -R rabbitmq:rabbitmq "$DIR"
}

# Starts node i in the background (its own session, so no caller's signal reaches it).
launch() {
  local i=$1 d envs=()
  d="$(node_dir "$i")"
  write_files "$i"
  if port_open "$(amqp_port "$i")"; then die "port $(amqp_port "$i") is taken by another process"; fi
  rm -f "$(pid_file "$i")"
  mapfile -t envs < <(node_env "$i")
  as_rabbitmq "${envs[@]}" setsid "$RABBIT_BIN/rabbitmq-server" >> "$d/log/server.out" 2>&1 < /dev/null &
  disown
}

# Waits until node i's application runs (the pid file appears, then the boot completes).
await_node() {
  local i=$1
  if ! cli "$i" rabbitmqctl -q wait "$(pid_file "$i")" --timeout "$START_TIMEOUT_S" > /dev/null 2>&1; then
    say "node $(name_of "$i") did not start; the end of its logs:"
    tail -n 20 "$(node_dir "$i")/log/server.out" "$(node_dir "$i")/log/"*.log >&2 2> /dev/null || true
    die "node $(name_of "$i") did not start within ${START_TIMEOUT_S} s"
  fi
}

members() { cli "$1" rabbitmqctl -q cluster_status --formatter json; }

# Runs a CLI call on node i, showing its output (the CLI logs warnings of its own) only if it fails.
quietly() {
  local out
  if ! out="$(cli "$@" 2>&1)"; then
    echo "$out" >&2
    die "failed: rabbitmqctl -n $(name_of "$1") ${*:3}"
  fi
}

# Joins node i to node 1's cluster unless node 1 already counts it as a member.
join() {
  local i=$1 status
  status="$(members 1)"
  if grep -q "\"$(name_of "$i")\"" <<< "$status"; then return; fi
  say "joining $(name_of "$i") to $(name_of 1)"
  quietly "$i" rabbitmqctl -q stop_app
  quietly "$i" rabbitmqctl -q reset
  quietly "$i" rabbitmqctl -q join_cluster "$(name_of 1)"
  quietly "$i" rabbitmqctl -q start_app
}

cmd_start() {
  mkdir -p "$DIR"
  local i started=()
  for ((i = 1; i <= SIZE; i++)); do
    if running "$i"; then continue; fi
    launch "$i"
    started+=("$i")
  done
  # All at once: a node that was clustered before waits at boot for the others.
  for i in "${started[@]}"; do await_node "$i"; done
  for ((i = 2; i <= SIZE; i++)); do join "$i"; done
  local status
  status="$(members 1)"
  for ((i = 1; i <= SIZE; i++)); do
    grep -q "\"$(name_of "$i")\"" <<< "$(grep -o '"running_nodes":\[[^]]*\]' <<< "$status")" ||
      die "$(name_of "$i") is not a running member of the cluster: $status"
  done
  say "cluster of $SIZE nodes up under $DIR"
  cmd_urls
}

stop_node() {
  local i=$1 pid n
  pid="$(pid_of "$i")" || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for ((n = 0; n < 300; n++)); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  say "$(name_of "$i") did not stop within 30 s of SIGTERM; SIGKILL"
  kill -KILL "$pid" 2> /dev/null || true
}

cmd_stop() {
  local i
  if [ ! -d "$DIR" ]; then return 0; fi
  for ((i = SIZE; i >= 1; i--)); do stop_node "$i" & done
  wait
  rm -rf "$DIR"
  say "stopped; removed $DIR"
}

cmd_status() {
  local i pid all=0
  for ((i = 1; i <= SIZE; i++)); do
    if pid="$(pid_of "$i")"; then
      printf '%s\tamqp 127.0.0.1:%s\tdist %s\tpid %s\trunning\n' "$(name_of "$i")" "$(amqp_port "$i")" "$(dist_port "$i")" "$pid"
    else
      printf '%s\tamqp 127.0.0.1:%s\tdist %s\t-\tdown\n' "$(name_of "$i")" "$(amqp_port "$i")" "$(dist_port "$i")"
      all=1
    fi
  done
  for ((i = 1; i <= SIZE; i++)); do
    if pid_of "$i" > /dev/null; then
      printf 'cluster as %s sees it: %s\n' "$(name_of "$i")" "$(members "$i" 2> /dev/null || echo unreachable)"
      break
    fi
  done
  return $all
}

cmd_urls() {
  local i urls=()
  for ((i = 1; i <= SIZE; i++)); do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$i")"); done
  (
    IFS=,
    echo "${urls[*]}"
  )
}

cmd_kill() {
  local i pid n
  i="$(index_of "${1:-}")"
  pid="$(pid_of "$i")" || die "$(name_of "$i") is not running"
  # The time first: `date` takes longer to start than the node's clients take to notice.
  local at
  at="$(date +%s%3N)"
  kill -KILL "$pid"
  for ((n = 0; n < 100; n++)); do
    if ! kill -0 "$pid" 2> /dev/null && ! port_open "$(amqp_port "$i")"; then
      say "killed $(name_of "$i") (pid $pid)"
      echo "$at"
      return 0
    fi
    sleep 0.1
  done
  die "$(name_of "$i") (pid $pid) still there 10 s after SIGKILL"
}

cmd_restart() {
  local i
  i="$(index_of "${1:-}")"
  [ -d "$(node_dir "$i")/mnesia" ] || die "no cluster under $DIR: run start first"
  stop_node "$i"
  launch "$i"
  await_node "$i"
  say "restarted $(name_of "$i")"
}

# The first running node, for the queries any member can answer.
any_node() {
  local i
  for ((i = 1; i <= SIZE; i++)); do
    if pid_of "$i" > /dev/null; then
      echo "$i"
      return
    fi
  done
  die "no node is running"
}

cmd_leaders() {
  cli "$(any_node)" rabbitmqctl -q list_queues name type leader members online --formatter json
}

cmd_lead() {
  local queue="${1:-}" i
  [ -n "$queue" ] || die "usage: lead <queue> <node>"
  i="$(index_of "${2:-}")"
  [[ "$queue" =~ ^[A-Za-z0-9_.-]+$ ]] || die "queue names here are letters, digits, '.', '_' or '-'"
  cli "$i" rabbitmqctl -q eval "{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<\"/\">>, queue, <<\"$queue\">>)), rabbit_quorum_queue:transfer_leadership(Q, '$(name_of "$i")')."
}

command="${1:-}"
shift || true
case "$command" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  urls) cmd_urls ;;
  dir) echo "$DIR" ;;
  kill) cmd_kill "$@" ;;
  restart) cmd_restart "$@" ;;
  ctl)
    i="$(index_of "${1:-}")"
    shift
    cli "$i" rabbitmqctl "$@"
    ;;
  queues)
    i="$(index_of "${1:-}")"
    shift
    cli "$i" rabbitmq-queues "$@"
    ;;
  leaders) cmd_leaders ;;
  lead) cmd_lead "$@" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
