{{/*
The dashboard's Redis ACL user, one rule line for the chart's ACL assembly
(bullmq-platform.aclRules in redis/_config.tpl). Call with
(dict "ctx" $ "keys" "~<prefix>:*" "deny" <refused commands> "conn" <connection commands>).

Read-only (dashboard.actionsEnabled false): read commands plus EVAL/EVALSHA for
bullmq's read scripts. Redis checks every command a script calls against these
rules, so a write from this user is refused by Redis itself, not just hidden.
Actions on: exactly the writes of the bullmq scripts behind the actions the
dashboard serves (dashboard/src/actions.mjs): reprocessJob (retry one),
moveJobsToWait (retry all, promote all), promote, cleanJobsInSet (clean a
status) and removeJob (remove one). tests/dashboard checks this list against
the scripts of the pinned bullmq (dashboard/package-lock.json).
*/}}
{{- define "bullmq-platform.dashboardActionCommands" -}}
+del +hdel +hset +incr +lpop +lpush +lrem +lset +sadd +srem +xadd +zadd +zrem
{{- end -}}

{{- define "bullmq-platform.dashboardAclRule" -}}
{{- $d := .ctx.Values.dashboard -}}
{{- if $d.enabled }}
# The dashboard (bull-board): {{ if $d.actionsEnabled }}reads, plus the writes of retry, promote and clean{{ else }}read-only{{ end }}.
dashboard {{ .keys }} -@all +@read +eval +evalsha +multi +exec +discard {{ .deny }} {{ .conn }} +info +client|list
{{- if $d.actionsEnabled }} {{ include "bullmq-platform.dashboardActionCommands" .ctx }}{{ end }}
{{- end }}
{{- end -}}
