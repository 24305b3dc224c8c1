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
# It logs in as the `reloader` ACL user with a pod-local password (see
# local-passwords.sh); it never prints a password.
# usage: redis-reloader.sh CONF_DIR PASSWORD_DIR LOCAL_DIR ACL_FILE
# env: REDIS_PORT, REDIS_TLS, REDIS_TLS_AUTH_CLIENTS, REDIS_TLS_CERT_FILE,
#      REDIS_TLS_KEY_FILE, REDIS_TLS_CA_FILE, RELOAD_INTERVAL_SECONDS,
#      DATA_DIR, APPENDFSYNC, DISK_RESERVE_PERCENT (disk guard; off without DATA_DIR)
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

cli() {
  set -- -h 127.0.0.1 -p "${REDIS_PORT:-6379}" --user reloader --no-auth-warning "$@"
  if [ "$tls" = "true" ]; then
    set -- --tls --cacert "$state/ca-bundle.crt" "$@"
    if [ "${REDIS_TLS_AUTH_CLIENTS:-no}" != "no" ]; then
      set -- --cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE" "$@"
    fi
  fi
  timeout 10 redis-cli "$@" </dev/null 2>&1 || true
}

# A digest of the files' contents; kubelet's hidden ..data folders are skipped.
fingerprint() {
  find -L "$@" -type f 2>/dev/null | grep -v '/\.\.' | sort | xargs cat 2>/dev/null |
    sha256sum | cut -d' ' -f1
}

apply_passwords() {
  sh "$conf/assemble-acl.sh" "$conf/acl.rules" "$pwdir" "$localdir" "$state/users.acl" || return 1
  count=0
  while read -r _ user rules; do
    [ "$user" = "default" ] && continue
    # $rules unquoted on purpose: one argument per rule (globbing is off).
    # shellcheck disable=SC2086
    reply=$(cli ACL SETUSER "$user" $rules)
    if [ "$reply" != "OK" ]; then
      echo "redis-reloader: ACL SETUSER $user failed: $reply" >&2
      return 1
    fi
    count=$((count + 1))
  done <"$state/users.acl"
  cp "$state/users.acl" "$acl.next"
  mv "$acl.next" "$acl"
  echo "redis-reloader: applied the passwords of $count ACL users" >&2
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
    passwords_seen=$now
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
