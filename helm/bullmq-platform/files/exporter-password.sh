#!/bin/sh
# Write redis_exporter's password file from a password file, escaping JSON, so the
# password never sits in env values or args. The exporter looks the password up
# by address: up to 1.69 by REDIS_ADDR as given, from 1.70 with the user added
# (rediss://USER@host:port). Both forms are written, so any version finds it.
# usage: exporter-password.sh PASSWORD_FILE ADDR USER OUT_FILE
set -eu
umask 077
pw=$(tr -d '\r\n' <"$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
addr=$2
user=$3
with_user="${addr%%://*}://$user@${addr#*://}"
printf '{"%s": "%s", "%s": "%s"}\n' "$addr" "$pw" "$with_user" "$pw" >"$4.tmp"
mv "$4.tmp" "$4"
