#!/bin/sh
# Write redis_exporter's password file ({"<addr>": "<password>"}) from the mounted
# Secret file, escaping JSON, so the password never sits in env values or args.
# usage: exporter-password.sh PASSWORD_FILE ADDR OUT_FILE
set -eu
umask 077
pw=$(tr -d '\r\n' <"$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
printf '{"%s": "%s"}\n' "$2" "$pw" >"$3"
