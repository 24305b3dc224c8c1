#!/bin/sh
# Fill in one node's replication.conf and sentinel.conf (redis.mode sentinel):
# its announce name, the primary to follow at first start, and the secrets the
# ConfigMap must not hold (masterauth, Sentinel's auth-pass and sentinel-pass,
# and the Sentinel ACL users as SHA-256 hashes of the mounted password files).
# Clients log in to the Sentinels as their own data-node user and password, with
# only the commands that find the primary.
# usage: sentinel-node.sh CONF_DIR PASSWORD_DIR ANNOUNCE_HOST REDIS_PORT SENTINEL_PORT \
#          PRIMARY_HOST PRIMARY_PORT OUT_DIR [CLIENT_USER...]
set -eu
conf=$1 pwdir=$2 announce=$3 redis_port=$4 sentinel_port=$5 primary=$6 primary_port=$7 out=$8
shift 8
umask 077
mkdir -p "$out"

secret() {
  if [ -z "$(tr -d '\r\n' <"$pwdir/$1" 2>/dev/null || true)" ]; then
    echo "sentinel-node: missing or empty password file $pwdir/$1 for ACL user '$1'" >&2
    exit 1
  fi
  tr -d '\r\n' <"$pwdir/$1"
}
hash_of() {
  tr -d '\r\n' <"$1" | sha256sum | cut -d' ' -f1
}
auth=false
grep -q '^sentinel auth-user ' "$conf/sentinel.conf" && auth=true

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
      echo "user default off resetpass resetkeys resetchannels -@all"
      echo "user sentinel on resetpass #$(hash_of "$pwdir/sentinel") ~* &* +@all"
      for user in "$@"; do
        [ -s "$pwdir/$user" ] || continue
        hashes="#$(hash_of "$pwdir/$user")"
        if [ -s "$pwdir/previous/$user" ]; then
          hashes="$hashes #$(hash_of "$pwdir/previous/$user")"
        fi
        echo "user $user on resetpass $hashes -@all +auth +hello +ping +client|setname" \
          "+sentinel|masters +sentinel|master +sentinel|get-master-addr-by-name +sentinel|sentinels" \
          "+sentinel|replicas +sentinel|slaves"
      done
    fi
  } >"$out/sentinel.conf.tmp"
  mv "$out/sentinel.conf.tmp" "$out/sentinel.conf"
fi
echo "sentinel-node: $announce follows $primary:$primary_port" >&2
