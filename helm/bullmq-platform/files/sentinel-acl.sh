#!/bin/sh
# Print the ACL users of a Sentinel (redis.mode sentinel), one `user ...` line each:
# `default` off; `sentinel` for its peers (and people); every client role with the
# SHA-256 hashes of its mounted password (and of `previous/<user>` during a rotation)
# and only the commands that find the primary; `reloader` with the pod-local password
# (RELOADER_PASSWORD_FILE, when set) and the commands that apply a rotation.
# sentinel-node.sh seeds sentinel.conf with these lines; redis-reloader.sh replays
# them with ACL SETUSER when the Secret changes. Never prints a password.
# usage: sentinel-acl.sh PASSWORD_DIR [CLIENT_USER...]
set -eu
pwdir=$1
shift
# The `sentinel` user may do anything: never give it the hash of an empty password.
if [ ! -s "$pwdir/sentinel" ]; then
  echo "sentinel-acl.sh: $pwdir/sentinel is missing or empty" >&2
  exit 1
fi

hash_of() {
  tr -d '\r\n' <"$1" | sha256sum | cut -d' ' -f1
}

# "#<current> [#<previous>]": both log in while a rotation is under way.
hashes() {
  printf '#%s' "$(hash_of "$pwdir/$1")"
  if [ -s "$pwdir/previous/$1" ]; then printf ' #%s' "$(hash_of "$pwdir/previous/$1")"; fi
}

echo "user default off resetpass resetkeys resetchannels -@all"
echo "user sentinel on resetpass $(hashes sentinel) ~* &* +@all"
for user in "$@"; do
  [ -s "$pwdir/$user" ] || continue
  echo "user $user on resetpass $(hashes "$user") -@all +auth +hello +ping +client|setname" \
    "+sentinel|masters +sentinel|master +sentinel|get-master-addr-by-name +sentinel|sentinels" \
    "+sentinel|replicas +sentinel|slaves"
done
if [ -s "${RELOADER_PASSWORD_FILE:-}" ]; then
  echo "user reloader on resetpass #$(hash_of "$RELOADER_PASSWORD_FILE") -@all +auth +hello" \
    "+ping +acl|setuser +sentinel|set +sentinel|config +sentinel|flushconfig +sentinel|master"
fi
