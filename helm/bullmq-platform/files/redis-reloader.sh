#!/bin/sh
# Keep a running Redis in step with its mounted Secrets, without a restart.
# Every RELOAD_INTERVAL_SECONDS it fingerprints the password files and the TLS
# files (the kubelet swaps a Secret volume's files in place, within about a
# minute of a change):
# - passwords changed: rebuild the ACL lines with assemble-acl.sh and replay
#   each user's line with ACL SETUSER (`resetpass #<sha256>...` first). Unlike
#   ACL LOAD, which in Redis 7 disconnects every client, ACL SETUSER leaves
#   established connections alone: clients move to the new password when they
#   next connect. The aclfile is rewritten too, so a restart loads the same users.
# - certificate files changed: CONFIG SET tls-cert-file/tls-key-file/tls-ca-cert-file
#   to the same paths, which makes Redis 7 read the files again. Until that
#   worked it verifies the server with the old and the new CA, so a renewal
#   that also replaced the CA can still be applied.
# - disk guard, every second (issue 25): with `appendfsync always` Redis 7 exits at
#   the first AOF write that finds the disk full ("Can't recover from AOF write
#   error when the AOF fsync policy is 'always'"), and no setting changes that.
#   While the data volume has less than DISK_RESERVE_PERCENT free it sets
#   appendfsync everysec: on a full disk Redis then stays up, refuses writes
#   (MISCONF), reports aof_last_write_status:err (alert BullmqRedisAofWriteErrors)
#   and resumes by itself once space is freed. Back to `always` at twice the
#   reserve. Re-applied every second, so a restarted Redis is guarded too.
# - redis.mode sentinel: the same for the Sentinel beside it (its ACL users), then
#   masterauth, Sentinel's auth-pass and sentinel-pass once every peer takes the new
#   password (see below).
# It logs in as the `reloader` ACL user with a pod-local password (see
# local-passwords.sh; the Sentinel has the same user); it never prints a password
# and never puts one in argv (`redis-cli -x` reads it from stdin).
# usage: redis-reloader.sh CONF_DIR PASSWORD_DIR LOCAL_DIR ACL_FILE
# env: REDIS_PORT, REDIS_TLS, REDIS_TLS_AUTH_CLIENTS, REDIS_TLS_CERT_FILE,
#      REDIS_TLS_KEY_FILE, REDIS_TLS_CA_FILE, RELOAD_INTERVAL_SECONDS,
#      DATA_DIR, APPENDFSYNC, DISK_RESERVE_PERCENT (disk guard; off without DATA_DIR),
#      SENTINEL_PORT, SENTINEL_MASTER, SENTINEL_CLIENT_USERS, PEER_NODES, SENTINEL_PEERS,
#      NODE_CONF (redis.mode sentinel; "host:port ..." lists; NODE_CONF: replication.conf)
set -eu
set -f # the rules hold globs (~bull:*): never expand them
conf=$1
pwdir=$2
localdir=$3
acl=$4
interval=${RELOAD_INTERVAL_SECONDS:-10}
tls=${REDIS_TLS:-true}
state="$localdir/reloader-state"
umask 077
mkdir -p "$state"
REDISCLI_AUTH=$(cat "$localdir/reloader")
export REDISCLI_AUTH

# redis-cli HOST PORT USER ARGS...: the password comes from REDISCLI_AUTH, stdin
# from the caller (`-x` reads the last argument from it, so no secret is in argv).
cli_to() {
  host=$1 port=$2 user=$3
  shift 3
  set -- -h "$host" -p "$port" --user "$user" --no-auth-warning "$@"
  if [ "$tls" = "true" ]; then
    set -- --tls --cacert "$state/ca-bundle.crt" "$@"
    if [ "${REDIS_TLS_AUTH_CLIENTS:-no}" != "no" ]; then
      set -- --cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE" "$@"
    fi
  fi
  timeout 10 redis-cli "$@" 2>&1 || true
}

# The pod's Redis, and its Sentinel (redis.mode sentinel), as `reloader`.
cli() {
  cli_to 127.0.0.1 "${REDIS_PORT:-6379}" reloader "$@" </dev/null
}
scli() {
  cli_to 127.0.0.1 "$SENTINEL_PORT" reloader "$@" </dev/null
}

# replay_users FILE PORT COUNT WHAT: each `user ...` line of FILE as ACL SETUSER on the
# local PORT, in one redis-cli (a command per line on stdin: the rules hold no quotes,
# each word is one argument); fails unless all COUNT answer OK. WHAT names the server
# in the error ("" or "Sentinel ").
replay_users() {
  replies=$(sed 's/^user /ACL SETUSER /' "$1" | cli_to 127.0.0.1 "$2" reloader)
  if [ "$(printf '%s\n' "$replies" | grep -c '^OK$')" != "$3" ]; then
    echo "redis-reloader: $4ACL SETUSER failed: $(printf '%s\n' "$replies" |
      grep -v '^OK$' | head -n 1)" >&2
    return 1
  fi
}

# A digest of the files' contents; kubelet's hidden ..data folders are skipped.
fingerprint() {
  find -L "$@" -type f 2>/dev/null | grep -v '/\.\.' | sort | xargs cat 2>/dev/null |
    sha256sum | cut -d' ' -f1
}

apply_passwords() {
  sh "$conf/assemble-acl.sh" "$conf/acl.rules" "$pwdir" "$localdir" "$state/users.acl" || return 1
  # Every user but `default`, in one redis-cli (replay_users).
  grep '^user ' "$state/users.acl" | grep -v '^user default ' >"$state/users.replay" || true
  count=$(grep -c '^user ' "$state/users.replay" || true)
  replay_users "$state/users.replay" "${REDIS_PORT:-6379}" "$count" "" || return 1
  cp "$state/users.acl" "$acl.next"
  mv "$acl.next" "$acl"
  echo "redis-reloader: applied the passwords of $count ACL users" >&2
}

# ---- redis.mode sentinel (SENTINEL_PORT set): the Sentinel's own ACL users, and the
# passwords Redis and Sentinel send as clients: masterauth (replica -> primary, user
# `replication`), auth-pass (Sentinel -> data nodes) and sentinel-pass (Sentinel ->
# Sentinel, both user `sentinel`). A client password is switched only once every peer
# that answers takes it (a rotation puts the new password on every node, the old one
# in previous/; the pods' reloaders see the Secret at different times): switched
# sooner, a Sentinel would get NOAUTH from a primary still on the old password and
# could declare it down.

apply_sentinel_users() {
  # shellcheck disable=SC2086
  sh "$conf/sentinel-acl.sh" "$pwdir" ${SENTINEL_CLIENT_USERS:-} >"$state/sentinel-users.acl" ||
    return 1
  count=$(grep -c '^user ' "$state/sentinel-users.acl")
  replay_users "$state/sentinel-users.acl" "$SENTINEL_PORT" "$count" "Sentinel " || return 1
  # Sentinel writes its users to its own sentinel.conf: a restarted Sentinel keeps them.
  reply=$(scli SENTINEL FLUSHCONFIG)
  [ "$reply" = "OK" ] || echo "redis-reloader: SENTINEL FLUSHCONFIG failed: $reply" >&2
  echo "redis-reloader: applied the passwords of $count Sentinel ACL users" >&2
}

# Whether every peer (host:port ...) that answers takes USER's current password.
taken_by() {
  user=$1
  shift
  password=$(tr -d '\r\n' <"$pwdir/$user")
  for peer in "$@"; do
    reply=$(REDISCLI_AUTH=$password cli_to "${peer%:*}" "${peer##*:}" "$user" PING </dev/null)
    case $reply in
      *WRONGPASS* | *NOAUTH* | *NOPERM* | *invalid*) return 1 ;;
    esac # PONG, or no answer: a node that is down reads the Secret when it starts
  done
}

password_hash() {
  tr -d '\r\n' <"$pwdir/$1" | sha256sum | cut -d' ' -f1
}

replication_applied=""
sentinel_applied=""
switch_client_passwords() {
  current=$(password_hash replication)
  if [ "$current" != "$replication_applied" ]; then
    # shellcheck disable=SC2086
    if taken_by replication ${PEER_NODES:-}; then
      reply=$(tr -d '\r\n' <"$pwdir/replication" | cli_to 127.0.0.1 "${REDIS_PORT:-6379}" \
        reloader -x CONFIG SET masterauth)
      if [ "$reply" = "OK" ]; then
        replication_applied=$current
        if [ -n "${NODE_CONF:-}" ] && [ -f "$NODE_CONF" ]; then
          # A restarted redis-server (same pod) reads it again.
          { grep -v '^masterauth ' "$NODE_CONF" || true
            printf 'masterauth %s\n' "$(tr -d '\r\n' <"$pwdir/replication")"; } >"$NODE_CONF.next"
          mv "$NODE_CONF.next" "$NODE_CONF"
        fi
        echo "redis-reloader: masterauth follows the replication password" >&2
      else
        echo "redis-reloader: CONFIG SET masterauth failed: $reply" >&2
      fi
    else
      echo "redis-reloader: a data node refuses the new replication password yet" >&2
    fi
  fi
  current=$(password_hash sentinel)
  if [ "$current" != "$sentinel_applied" ]; then
    # shellcheck disable=SC2086
    if taken_by sentinel ${PEER_NODES:-} ${SENTINEL_PEERS:-}; then
      auth=$(tr -d '\r\n' <"$pwdir/sentinel" | cli_to 127.0.0.1 "$SENTINEL_PORT" reloader \
        -x SENTINEL SET "$SENTINEL_MASTER" auth-pass)
      peers=$(tr -d '\r\n' <"$pwdir/sentinel" | cli_to 127.0.0.1 "$SENTINEL_PORT" reloader \
        -x SENTINEL CONFIG SET sentinel-pass)
      if [ "$auth" = "OK" ] && [ "$peers" = "OK" ]; then
        sentinel_applied=$current
        echo "redis-reloader: Sentinel's auth-pass and sentinel-pass follow the sentinel" \
          "password" >&2
      else
        echo "redis-reloader: SENTINEL SET auth-pass / sentinel-pass failed: $auth $peers" >&2
      fi
    else
      echo "redis-reloader: a data node or Sentinel refuses the new sentinel password yet" >&2
    fi
  fi
}

apply_certificates() {
  reply=$(cli CONFIG SET tls-cert-file "$REDIS_TLS_CERT_FILE" tls-key-file "$REDIS_TLS_KEY_FILE" \
    tls-ca-cert-file "$REDIS_TLS_CA_FILE")
  if [ "$reply" != "OK" ]; then
    echo "redis-reloader: reloading the TLS files failed (retrying): $reply" >&2
    return 1
  fi
  echo "redis-reloader: Redis reloaded its TLS certificate files" >&2
}

# Percent of the data volume still free (df -P: 1K blocks, "Available" of "Size").
free_percent() {
  df -P "$1" 2>/dev/null | awk 'NR == 2 && $2 > 0 { print int($4 * 100 / $2) }'
}

disk_guarded=false
fsync_read=false
guard_disk() {
  [ -n "${DATA_DIR:-}" ] && [ "${APPENDFSYNC:-everysec}" = "always" ] || return 0
  if [ "$fsync_read" = false ]; then
    # A restarted reloader does not remember relaxing appendfsync: Redis tells it
    # (asked until Redis answers, so a sidecar that starts first still learns it).
    current=$(cli CONFIG GET appendfsync | tail -n 1)
    case $current in
      always | no) fsync_read=true ;;
      everysec)
        fsync_read=true
        disk_guarded=true
        echo "redis-reloader: appendfsync is everysec (relaxed by a full-disk guard" \
          "before a restart): always again once the volume has room" >&2
        ;;
    esac
  fi
  free=$(free_percent "$DATA_DIR")
  [ -n "$free" ] || return 0
  reserve=${DISK_RESERVE_PERCENT:-10}
  if [ "$free" -lt "$reserve" ]; then
    reply=$(cli CONFIG SET appendfsync everysec)
    if [ "$reply" = "OK" ] && [ "$disk_guarded" = false ]; then
      disk_guarded=true
      echo "redis-reloader: data volume ${free}% free (< ${reserve}%): appendfsync everysec," \
        "so a full disk refuses writes instead of stopping Redis" >&2
    fi
  elif [ "$disk_guarded" = true ] && [ "$free" -ge $((reserve * 2)) ]; then
    reply=$(cli CONFIG SET appendfsync always)
    if [ "$reply" = "OK" ]; then
      disk_guarded=false
      echo "redis-reloader: data volume ${free}% free: appendfsync always again" >&2
    fi
  fi
}

passwords_seen=""
tls_seen=""
if [ "$tls" = "true" ]; then
  cp "$REDIS_TLS_CA_FILE" "$state/ca-applied.crt"
  cp "$REDIS_TLS_CA_FILE" "$state/ca-bundle.crt"
  tls_seen=$(fingerprint "$REDIS_TLS_CERT_FILE" "$REDIS_TLS_KEY_FILE" "$REDIS_TLS_CA_FILE")
fi
echo "redis-reloader: watching $pwdir every ${interval}s" >&2
tick=$interval # the Secrets are checked at once, then every $interval seconds
while :; do
  guard_disk
  if [ "$tick" -lt "$interval" ]; then
    tick=$((tick + 1))
    sleep 1
    continue
  fi
  tick=1
  now=$(fingerprint "$pwdir")
  if [ "$now" != "$passwords_seen" ] && apply_passwords; then
    if [ -z "${SENTINEL_PORT:-}" ] || apply_sentinel_users; then
      passwords_seen=$now
    fi
  fi
  if [ -n "${SENTINEL_PORT:-}" ] && [ "$passwords_seen" = "$now" ]; then
    switch_client_passwords
  fi
  if [ "$tls" = "true" ]; then
    now=$(fingerprint "$REDIS_TLS_CERT_FILE" "$REDIS_TLS_KEY_FILE" "$REDIS_TLS_CA_FILE")
    if [ "$now" != "$tls_seen" ]; then
      cat "$state/ca-applied.crt" "$REDIS_TLS_CA_FILE" >"$state/ca-bundle.next"
      mv "$state/ca-bundle.next" "$state/ca-bundle.crt"
      if apply_certificates; then
        tls_seen=$now
        cp "$REDIS_TLS_CA_FILE" "$state/ca-applied.crt"
        cp "$REDIS_TLS_CA_FILE" "$state/ca-bundle.crt"
      fi
    fi
  fi
  sleep 1
done
