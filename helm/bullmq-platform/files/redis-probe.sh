#!/bin/sh
# Redis liveness/readiness probe: PING over TLS as the `exporter` ACL user.
# The password is the pod-local one (local-passwords.sh), read into REDISCLI_AUTH,
# never argv: a rotation of the Secret's passwords cannot make the probe fail.
# usage: redis-probe.sh liveness|readiness
set -eu
kind=${1:-readiness}
set -- -h 127.0.0.1 -p "${REDIS_PORT:-6379}"
if [ "${REDIS_TLS:-true}" = "true" ]; then
  set -- "$@" --tls --cacert /etc/redis/tls/ca.crt
  if [ "${REDIS_TLS_AUTH_CLIENTS:-no}" != "no" ]; then
    set -- "$@" --cert /etc/redis/tls/tls.crt --key /etc/redis/tls/tls.key
  fi
fi
pwfile=${REDIS_PROBE_PASSWORD_FILE:-/etc/redis/acl/local/exporter}
if [ -s "$pwfile" ]; then
  REDISCLI_AUTH=$(cat "$pwfile")
  export REDISCLI_AUTH
  set -- "$@" --user exporter
fi
reply=$(timeout 4 redis-cli "$@" ping 2>&1 || true)
case "$reply" in
  PONG) exit 0 ;;
  # Loading a large AOF is slow but alive: only readiness fails on it.
  *LOADING*) [ "$kind" = "liveness" ] && exit 0 ;;
esac
echo "redis-probe ($kind): $reply" >&2
exit 1
