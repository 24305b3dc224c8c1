#!/bin/sh
# Forms the Redis Cluster and keeps this node in it (redis.mode cluster). Runs beside
# redis-server in every pod, in a loop; every step is idempotent, so no Helm hook or
# Job is needed (Argo CD would re-run those) and a restarted pod finds its way back.
#
#   fresh cluster  The first node of PEERS, once every peer answers and none holds a
#                  slot, runs `redis-cli --cluster create` (SHARDS primaries, REPLICAS
#                  replicas each). The others wait to be met.
#   fresh node     A node without slots or peers while others already form a cluster
#                  (a pod replaced with an empty volume) meets them and becomes a
#                  replica of the primary with the fewest replicas.
#   restarted pod  nodes.conf on the data volume keeps its identity and slots; pod IPs
#                  change, so every round it meets each peer at its current address.
#   empty primary  A node that joined but holds no slot (a pod replaced with an empty
#                  volume, or created after the cluster) becomes a replica of the
#                  primary with the fewest replicas, once every slot is served.
#   failed node    A failed node that serves no slot (a replica, or the old id of a pod
#                  that came back with an empty volume) is forgotten; MEET brings it
#                  back if it returns. A failed primary with slots is left alone: its
#                  replica takes over, or an operator decides.
#
# Env: SELF (host:port:busport of this node), PEERS (space-separated host:port:busport
# of every node, this one included, the creator first), SHARDS, REPLICAS, PASSWORD_FILE
# (the `cluster` ACL user's password: it reaches redis-cli as REDISCLI_AUTH, never on a
# command line), REDIS_TLS, REDIS_TLS_CA_FILE, optional REDIS_TLS_CERT_FILE /
# REDIS_TLS_KEY_FILE, INTERVAL seconds (default 10), ONCE=1 for a single round.
set -u
INTERVAL=${INTERVAL:-10}

cli() {
  host=$1
  port=$2
  shift 2
  set -- -h "$host" -p "$port" --user cluster --no-auth-warning "$@"
  if [ "${REDIS_TLS:-true}" = "true" ]; then
    set -- --tls --cacert "$REDIS_TLS_CA_FILE" "$@"
    if [ -n "${REDIS_TLS_CERT_FILE:-}" ]; then
      set -- --cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE" "$@"
    fi
  fi
  REDISCLI_AUTH=$(tr -d '\r\n' <"$PASSWORD_FILE") redis-cli "$@" 2>/dev/null | tr -d '\r'
}

field() { # host:port:bus index
  echo "$1" | cut -d: -f"$2"
}

address() { # host -> IPv4/IPv6 address (an address stays itself)
  getent hosts "$1" | awk '{ print $1; exit }'
}

cluster_info() { # entry key
  cli "$(field "$1" 1)" "$(field "$1" 2)" cluster info | sed -n "s/^$2://p"
}

self_cli() {
  cli "$(field "$SELF" 1)" "$(field "$SELF" 2)" "$@"
}

fresh() { # entry: answers, knows only itself, holds no slot
  [ "$(cluster_info "$1" cluster_known_nodes)" = "1" ] &&
    [ "$(cluster_info "$1" cluster_slots_assigned)" = "0" ]
}

create() {
  set --
  for peer in $PEERS; do
    fresh "$peer" || return 0 # someone is not up yet, or already in a cluster
    ip=$(address "$(field "$peer" 1)")
    [ -n "$ip" ] || return 0
    set -- "$@" "$ip:$(field "$peer" 2)"
  done
  echo "bootstrap: creating the cluster: $SHARDS shards x $((REPLICAS + 1)) nodes" >&2
  REDISCLI_AUTH=$(tr -d '\r\n' <"$PASSWORD_FILE") redis-cli $(tls_flags) --user cluster \
    --no-auth-warning --cluster create "$@" --cluster-replicas "$REPLICAS" --cluster-yes >&2
}

tls_flags() {
  if [ "${REDIS_TLS:-true}" = "true" ]; then
    printf -- '--tls --cacert %s' "$REDIS_TLS_CA_FILE"
    if [ -n "${REDIS_TLS_CERT_FILE:-}" ]; then
      printf -- ' --cert %s --key %s' "$REDIS_TLS_CERT_FILE" "$REDIS_TLS_KEY_FILE"
    fi
  fi
}

meet_peers() { # meet every peer whose current address this node does not know
  known=$(self_cli cluster nodes)
  for peer in $PEERS; do
    [ "$peer" = "$SELF" ] && continue
    ip=$(address "$(field "$peer" 1)")
    [ -n "$ip" ] || continue
    port=$(field "$peer" 2)
    bus=$(field "$peer" 3)
    case "$known" in
      *" $ip:$port@"*) ;;
      *) self_cli cluster meet "$ip" "$port" "$bus" >/dev/null ;;
    esac
  done
}

replicate_thinnest() { # become a replica of the primary with the fewest replicas
  target=$(self_cli cluster nodes | awk '
    $3 ~ /master/ && $3 !~ /fail/ && $9 != "" { primaries[$1] = 0 }
    $3 ~ /slave/ { replicas[$4]++ }
    END {
      best = ""; fewest = 1000000
      for (id in primaries) { n = replicas[id] + 0; if (n < fewest) { fewest = n; best = id } }
      print best
    }')
  if [ -n "$target" ]; then
    echo "bootstrap: joining as a replica of $target" >&2
    self_cli cluster replicate "$target" >/dev/null
  fi
}

forget_failed() { # failed (or address-less) nodes that serve no slot
  self_cli cluster nodes | awk '$3 ~ /(^|,)(fail|noaddr)(,|$)/ && ($3 ~ /slave/ || $9 == "") { print $1 }' |
    while read -r id; do
      echo "bootstrap: forgetting failed node $id (it serves no slot)" >&2
      self_cli cluster forget "$id" >/dev/null
    done
}

empty_primary() { # this node is a primary without slots in a cluster that serves them all
  [ "$(cluster_info "$SELF" cluster_state)" = "ok" ] || return 1
  self_cli cluster nodes | awk '$3 ~ /myself/ { exit !($3 ~ /master/ && $9 == "") }'
}

round() {
  known=$(cluster_info "$SELF" cluster_known_nodes)
  [ -n "$known" ] || return 0 # Redis is not up yet
  if fresh "$SELF"; then
    for peer in $PEERS; do
      [ "$peer" = "$SELF" ] && continue
      if [ "$(cluster_info "$peer" cluster_slots_assigned)" != "" ] &&
        [ "$(cluster_info "$peer" cluster_slots_assigned)" != "0" ]; then
        meet_peers # next rounds: a member without slots, then a replica
        return 0
      fi
    done
    first=${PEERS%% *}
    if [ "$first" = "$SELF" ]; then
      create
    fi
    return 0
  fi
  meet_peers
  forget_failed
  if empty_primary; then
    replicate_thinnest
  fi
}

while true; do
  round
  [ "${ONCE:-0}" = "1" ] && exit 0
  sleep "$INTERVAL"
done
