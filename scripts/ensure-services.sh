#!/usr/bin/env bash
# Starts the local PostgreSQL and RabbitMQ when they are not running (Debian packages, as on the
# development and CI machines), then waits until both accept connections.
set -euo pipefail

wait_for() { # name, attempts, command...
  local name=$1 attempts=$2
  shift 2
  for _ in $(seq "$attempts"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "$name did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
wait_for PostgreSQL 60 pg_isready -h 127.0.0.1 -p 5432 -q

amqp_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! amqp_open; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
fi
wait_for RabbitMQ 120 amqp_open
# The port opens a moment before the broker takes connections.
wait_for RabbitMQ 60 rabbitmq-diagnostics -q check_running
