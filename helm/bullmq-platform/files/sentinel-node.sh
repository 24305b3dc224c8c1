#!/bin/sh
# Fill in one node's replication.conf and sentinel.conf (redis.mode sentinel):
# its announce name, the primary to follow at first start, and the secrets the
# ConfigMap must not hold (masterauth, Sentinel's auth-pass and sentinel-pass,
# and the Sentinel ACL users as SHA-256 hashes of the mounted password files, from
# sentinel-acl.sh). redis-reloader.sh keeps them in step with the Secret later.
# Clients log in to the Sentinels as their own data-node user and password, with
# only the commands that find the primary.
#
# Which primary: the one the other pods' Sentinels name (SENTINEL_PEERS; the answer
# most of them give), so a restarted pod follows the current primary instead of
# reseeding pod 0 as primary. PRIMARY_HOST/PORT (pod 0) only when no Sentinel answers.
# A node that would start as primary with an empty data directory (DATA_DIR) first asks
# the other data nodes (PEER_NODES): if one holds data it refuses to start, because its
# replicas would copy the empty data set over theirs.
# usage: sentinel-node.sh CONF_DIR PASSWORD_DIR ANNOUNCE_HOST REDIS_PORT SENTINEL_PORT \
#          PRIMARY_HOST PRIMARY_PORT OUT_DIR [CLIENT_USER...]
# env (all optional): SENTINEL_PEERS, PEER_NODES ("host:port ..."), DATA_DIR, TLS_CA,
#   TLS_CERT, TLS_KEY (redis-cli over TLS), PEER_TIMEOUT (s per question, default 3),
#   PEER_WAIT (s an empty would-be primary waits for every peer to answer, default 60),
#   RELOADER_PASSWORD_FILE (the pod-local password redis-reloader.sh logs in to Sentinel with)
set -eu
conf=$1 pwdir=$2 announce=$3 redis_port=$4 sentinel_port=$5 primary=$6 primary_port=$7 out=$8
shift 8
users="$*"
umask 077
mkdir -p "$out"

secret() {
  if [ -z "$(tr -d '\r\n' <"$pwdir/$1" 2>/dev/null || true)" ]; then
    echo "sentinel-node: missing or empty password file $pwdir/$1 for ACL user '$1'" >&2
    exit 1
  fi
  tr -d '\r\n' <"$pwdir/$1"
}
auth=false
grep -q '^sentinel auth-user ' "$conf/sentinel.conf" && auth=true
master_name=$(sed -n 's/^sentinel monitor \([^ ]*\) .*/\1/p' "$conf/sentinel.conf")

# One question to a Sentinel or data node as the `sentinel` user (password by env, not argv).
ask() {
  host=$1 port=$2
  shift 2
  if [ -n "${TLS_CA:-}" ]; then
    set -- --tls --cacert "$TLS_CA" ${TLS_CERT:+--cert "$TLS_CERT"} ${TLS_KEY:+--key "$TLS_KEY"} "$@"
  fi
  if [ "$auth" = true ]; then
    REDISCLI_AUTH=$(secret sentinel) timeout "${PEER_TIMEOUT:-3}" \
      redis-cli --no-auth-warning --user sentinel -h "$host" -p "$port" "$@" 2>/dev/null
  else
    timeout "${PEER_TIMEOUT:-3}" redis-cli -h "$host" -p "$port" "$@" 2>/dev/null
  fi
}

# host:port of the primary most answering Sentinels name; empty when none answers.
sentinels_primary() {
  for peer in ${SENTINEL_PEERS:-}; do
    [ "$peer" = "$announce:$sentinel_port" ] && continue
    reply=$(ask "${peer%:*}" "${peer##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME "$master_name" |
      tr '\n' ' ') || continue
    case $reply in
      *ERR* | *NOAUTH* | *NOPERM* | *WRONGPASS*) continue ;;
    esac
    set -- $reply
    [ $# -eq 2 ] || continue
    case $2 in '' | *[!0-9]*) continue ;; esac
    echo "$1:$2"
  done | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }'
}

# Whether DATA_DIR holds no RDB or AOF (a new or wiped volume).
data_empty() {
  [ -n "${DATA_DIR:-}" ] || return 1
  [ ! -s "$DATA_DIR/dump.rdb" ] || return 1
  [ -z "$(ls -A "$DATA_DIR/appendonlydir" 2>/dev/null)" ] || return 1
  [ -z "$(ls "$DATA_DIR"/*.aof 2>/dev/null)" ]
}

# The first peer data node that holds keys (or is loading them); empty when none.
# Waits up to PEER_WAIT s for every peer to answer (they start at the same time).
peer_with_data() {
  deadline=$(($(date +%s) + ${PEER_WAIT:-60}))
  while :; do
    silent=0
    for node in ${PEER_NODES:-}; do
      [ "$node" = "$announce:$redis_port" ] && continue
      info=$(ask "${node%:*}" "${node##*:}" INFO | tr -d '\r') || info=""
      case $info in
        *redis_version:*) ;;
        *) silent=1; continue ;;
      esac
      if printf '%s\n' "$info" | grep -Eq '^loading:1|^db[0-9]+:keys=[1-9]'; then
        echo "$node"
        return 0
      fi
    done
    [ "$silent" = 0 ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || return 0
    sleep 2
  done
}

current=$(sentinels_primary)
if [ -n "$current" ]; then
  echo "sentinel-node: the Sentinels name $current as the primary" >&2
  primary=${current%:*} primary_port=${current##*:}
else
  echo "sentinel-node: no Sentinel answered; first-start primary $primary:$primary_port" >&2
fi
if [ "$announce:$redis_port" = "$primary:$primary_port" ] && data_empty; then
  holder=$(peer_with_data)
  if [ -n "$holder" ]; then
    echo "sentinel-node: refusing to start $announce as primary with an empty data" \
      "directory while $holder holds data (its replicas would copy the empty set over" \
      "theirs). Make $holder the primary first (docs/redis-ha.md, 'An empty pod 0')." >&2
    exit 1
  fi
fi

{
  echo "replica-announce-ip $announce"
  echo "replica-announce-port $redis_port"
  if [ "$auth" = true ]; then echo "masterauth $(secret replication)"; fi
  if [ "$announce:$redis_port" != "$primary:$primary_port" ]; then
    echo "replicaof $primary $primary_port"
  fi
} >"$out/replication.conf.tmp"
mv "$out/replication.conf.tmp" "$out/replication.conf"

# Sentinel rewrites its file: seed it only once, so a restart keeps what it learnt.
if [ ! -s "$out/sentinel.conf" ]; then
  {
    sed -e "s/PRIMARY_HOST/$primary/" -e "s/PRIMARY_PORT/$primary_port/" "$conf/sentinel.conf"
    echo "sentinel announce-ip $announce"
    echo "sentinel announce-port $sentinel_port"
    if [ "$auth" = true ]; then
      master=$(sed -n 's/^sentinel auth-user \([^ ]*\) .*/\1/p' "$conf/sentinel.conf")
      echo "sentinel auth-pass $master $(secret sentinel)"
      echo "sentinel sentinel-pass $(secret sentinel)"
      sh "$conf/sentinel-acl.sh" "$pwdir" $users
    fi
  } >"$out/sentinel.conf.tmp"
  mv "$out/sentinel.conf.tmp" "$out/sentinel.conf"
elif [ "$auth" = true ] && [ -s "${RELOADER_PASSWORD_FILE:-}" ]; then
  # A pod whose init ran again has a new pod-local reloader password.
  { grep -v '^user reloader ' "$out/sentinel.conf" || true
    sh "$conf/sentinel-acl.sh" "$pwdir" | grep '^user reloader '; } >"$out/sentinel.conf.tmp"
  mv "$out/sentinel.conf.tmp" "$out/sentinel.conf"
fi
echo "sentinel-node: $announce follows $primary:$primary_port" >&2
