#!/bin/sh
# Build Redis's ACL file from rules that hold no secrets and one password file
# per user (a mounted Secret). Stores only SHA-256 hashes of the passwords.
# usage: assemble-acl.sh RULES_FILE PASSWORD_DIR OUT_FILE
set -eu
rules=$1
pwdir=$2
out=$3
umask 077
tmp="$out.tmp"
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
  if [ ! -s "$pwdir/$user" ]; then
    echo "assemble-acl: missing or empty password file $pwdir/$user for ACL user '$user'" >&2
    exit 1
  fi
  hash=$(tr -d '\r\n' <"$pwdir/$user" | sha256sum | cut -d' ' -f1)
  echo "user $user on #$hash resetkeys resetchannels $rules_of_user" >>"$tmp"
done <"$rules"
mv "$tmp" "$out"
echo "assemble-acl: wrote $(grep -c '^user ' "$out") users to $out" >&2
