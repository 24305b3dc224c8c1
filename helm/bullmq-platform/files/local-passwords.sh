#!/bin/sh
# Generate the pod-local passwords (LOCAL_DIR/<user>, 0600, 256 random bits):
# the probe and redis_exporter log in as `exporter` with one, the reloader as
# `reloader` with the other. They live in a memory-backed volume, change only
# when the pod starts, and never enter a Secret, so rotating the Secret's
# passwords can never lock the pod's own checks out.
# usage: local-passwords.sh LOCAL_DIR USER...
set -eu
dir=$1
shift
umask 077
mkdir -p "$dir"
for user in "$@"; do
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/$user.tmp"
  mv "$dir/$user.tmp" "$dir/$user"
done
echo "local-passwords: generated $# pod-local password(s) in $dir" >&2
