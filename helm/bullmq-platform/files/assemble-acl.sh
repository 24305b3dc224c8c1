#!/bin/sh
# Build Redis's ACL file from rules that hold no secrets and the password files
# of each user. Stores only SHA-256 hashes of the passwords. A user may hold up
# to three passwords at once, which is what makes a rotation seamless:
#   PASSWORD_DIR/<user>           the current one (a mounted Secret key)
#   PASSWORD_DIR/previous/<user>  the one being rotated out (optional Secret key)
#   LOCAL_DIR/<user>              one generated inside the pod at start, never in a
#                                 Secret (the probe, the exporter and the reloader)
# Each line starts with `resetpass`, so redis-reloader.sh can replay it with
# ACL SETUSER on a running server. Runs under `set -e`: any problem fails the
# init container, naming the user and the file.
# usage: assemble-acl.sh RULES_FILE PASSWORD_DIR LOCAL_DIR OUT_FILE
set -eu
rules=$1
pwdir=$2
localdir=$3
out=$4
umask 077
tmp="$out.tmp"

hash_of() {
  tr -d '\r\n' <"$1" | sha256sum | cut -d' ' -f1
}

# `default` is off: no client can authenticate as it. It keeps full rights
# because Redis 7.0-7.4 replays the AOF's MULTI/EXEC blocks (every BullMQ
# script's writes) as `default` and re-checks ACLs on EXEC: with -@all every
# job written since the last AOF rewrite is dropped on restart
# (redis/redis#14541, fixed upstream by #14545). Found by the Redis crash drill.
echo "user default off resetpass resetkeys resetchannels ~* &* +@all" >"$tmp"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in '' | '#'*) continue ;; esac
  user=${line%% *}
  rules_of_user=${line#* }
  hashes=""
  if [ -e "$pwdir/$user" ] || [ ! -e "$localdir/$user" ]; then
    # A Secret-backed user: its current password must be there and not empty.
    if [ -z "$(tr -d '\r\n' <"$pwdir/$user" 2>/dev/null || true)" ]; then
      echo "assemble-acl: missing or empty password file $pwdir/$user for ACL user '$user'" \
        "(check the Secret key named by redis.auth.passwordKeys.$user)" >&2
      exit 1
    fi
    hashes="#$(hash_of "$pwdir/$user")"
  fi
  if [ -s "$pwdir/previous/$user" ]; then
    hashes="$hashes #$(hash_of "$pwdir/previous/$user")"
  fi
  if [ -s "$localdir/$user" ]; then
    hashes="$hashes #$(hash_of "$localdir/$user")"
  fi
  echo "user $user on resetpass $hashes resetkeys resetchannels $rules_of_user" >>"$tmp"
done <"$rules"
mv "$tmp" "$out"
echo "assemble-acl: wrote $(grep -c '^user ' "$out") users to $out" >&2
