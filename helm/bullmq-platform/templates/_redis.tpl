{{/* Redis: its Secrets, how clients reach it, and which keys redis_exporter watches. */}}

{{/* Name of the Secret holding one password per ACL user (never created by the chart). */}}
{{- define "bullmq-platform.authSecret" -}}
{{- required "redis.auth.existingSecret is required: name the Secret holding one password per ACL user (Pulumi fills it for source generated; GitOps users create it first)" .Values.redis.auth.existingSecret -}}
{{- end -}}

{{/* Name of the Secret holding tls.crt, tls.key and ca.crt. */}}
{{- define "bullmq-platform.tlsSecret" -}}
{{- if and (eq .Values.redis.tls.source "certManager") (has .Values.redis.mode (list "in-cluster" "sentinel")) -}}
{{- printf "%s-tls" (include "bullmq-platform.redisName" .) -}}
{{- else -}}
{{- required "redis.tls.existingSecret is required: name the Secret holding tls.crt, tls.key and ca.crt (Pulumi fills it for source generated; GitOps users create it first)" .Values.redis.tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Host the workers, scheduler and KEDA connect to: the client Service, or the managed Redis. */}}
{{- define "bullmq-platform.redisHost" -}}
{{- if eq .Values.redis.mode "external" -}}
{{- .Values.redis.external.host | default "" -}}
{{- else if eq .Values.redis.mode "sentinel" -}}
{{- /* The first primary; clients follow the Sentinels (BULLMQ_PLATFORM_REDIS_SENTINEL_*). */ -}}
{{- include "bullmq-platform.redisPodHost" (dict "ctx" . "ordinal" 0) -}}
{{- else -}}
{{- include "bullmq-platform.serviceHost" (dict "ctx" . "name" (include "bullmq-platform.redisName" .)) -}}
{{- end -}}
{{- end -}}

{{/*
The name of one Redis pod under the headless Service, `<pod>.<headless>.<ns>.svc.<clusterDomain>`:
what clients, Sentinels and the pod itself (announce) use; (dict "ctx" $ "ordinal" N).
infra/naming.py's RedisNames.pod_address is the same rule.
*/}}
{{- define "bullmq-platform.redisPodHost" -}}
{{- $name := include "bullmq-platform.redisName" .ctx -}}
{{- include "bullmq-platform.serviceHost" (dict "ctx" .ctx "name" (printf "%s-%d.%s-headless" $name (int .ordinal) $name)) -}}
{{- end -}}

{{- define "bullmq-platform.redisPort" -}}
{{- if eq .Values.redis.mode "external" -}}
{{- .Values.redis.external.port -}}
{{- else -}}
{{- .Values.redis.port -}}
{{- end -}}
{{- end -}}

{{/* ACL user of a role (worker, scheduler, keda); external mode has one managed user. */}}
{{- define "bullmq-platform.redisUser" -}}
{{- if eq .ctx.Values.redis.mode "external" -}}
{{- .ctx.Values.redis.external.username | default "" -}}
{{- else -}}
{{- .role -}}
{{- end -}}
{{- end -}}

{{/*
Keys whose sizes redis_exporter reports: each queue's backlog, busy, delayed and
failed keys, and its DLQ's waiting jobs (suffixes: platform_spec/keys.py via _facts.tpl).
*/}}
{{- define "bullmq-platform.exporterKeys" -}}
{{- $k := include "bullmq-platform.keys" . | fromJson -}}
{{- $keys := list -}}
{{- range $q := .Values.queues -}}
{{- range $suffix := $k.exported -}}
{{- $keys = append $keys (printf "db0=%s:%s:%s" $.Values.keyPrefix $q.name $suffix) -}}
{{- end -}}
{{- if $q.deadLetter.enabled -}}
{{- $keys = append $keys (printf "db0=%s:%s%s:%s" $.Values.keyPrefix $q.name $k.dlqQueueSuffix $k.dlqBacklog) -}}
{{- end -}}
{{- end -}}
{{- join "," $keys -}}
{{- end -}}

{{/*
keyPrefix as a PromQL regex: a literal `.` (the only regex character the spec's
keyPrefix pattern admits) as `[.]`, so `my.app` does not match `myXapp`.
*/}}
{{- define "bullmq-platform.keyPrefixRegex" -}}
{{- .Values.keyPrefix | replace "." "[.]" -}}
{{- end -}}

{{/*
Every DNS name a client may use to reach Redis, as a JSON list: the server
certificate's SANs. Both Services and the pod under the headless Service in
every form, a wildcard under the headless Service, the scheduler Service when
KEDA reads its scaling endpoint (served with the same certificate) and
localhost (probes, exporter).
infra/naming.py's server_dns_names builds the same list for the certificate
Pulumi generates.
*/}}
{{- define "bullmq-platform.redisServerDnsNames" -}}
{{- $name := include "bullmq-platform.redisName" . -}}
{{- $headless := printf "%s-headless" $name -}}
{{- $ns := .Release.Namespace -}}
{{- $domain := .Values.clusterDomain -}}
{{- $sans := list -}}
{{- $hosts := list $name $headless -}}
{{- if include "bullmq-platform.metricsApi" . -}}
{{- $hosts = append $hosts (include "bullmq-platform.schedulerName" .) -}}
{{- end -}}
{{- $sentinel := eq .Values.redis.mode "sentinel" -}}
{{- if $sentinel -}}
{{- $hosts = append $hosts (printf "%s-sentinel" $name) -}}
{{- end -}}
{{- range $i := until (ternary (int (add1 .Values.redis.sentinel.replicas)) 1 $sentinel) -}}
{{- $hosts = append $hosts (printf "%s-%d.%s" $name $i $headless) -}}
{{- end -}}
{{- range $host := $hosts -}}
{{- $sans = concat $sans (include "bullmq-platform.dnsForms" (dict "ctx" $ "name" $host) | fromJsonArray) -}}
{{- end -}}
{{- $sans = append $sans (printf "*.%s.%s.svc" $headless $ns) -}}
{{- $sans = append $sans (printf "*.%s.%s.svc.%s" $headless $ns $domain) -}}
{{- append $sans "localhost" | toJson -}}
{{- end -}}
