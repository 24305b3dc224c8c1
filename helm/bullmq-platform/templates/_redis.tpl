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
A queue's BullMQ key prefix: keyPrefix, or in Redis Cluster mode keyPrefix plus the
queue's hash tag (its redis.cluster.tagGroups tag, else its name), the format coming
from platform_spec/keys.py through the facts. Call with (dict "ctx" $ "queue" NAME);
a DLQ passes its queue's name. PlatformSpec.queue_prefix is the Python side.
*/}}
{{- define "bullmq-platform.queuePrefix" -}}
{{- $v := .ctx.Values -}}
{{- if include "bullmq-platform.redisCluster" .ctx -}}
{{- $tag := .queue -}}
{{- range $g := $v.redis.cluster.tagGroups -}}
{{- if has $.queue $g.queues }}{{ $tag = $g.tag }}{{ end -}}
{{- end -}}
{{- printf (include "bullmq-platform.facts" .ctx | fromJson).clusterPrefixFormat $v.keyPrefix $tag -}}
{{- else -}}
{{- $v.keyPrefix -}}
{{- end -}}
{{- end -}}

{{/*
The BullMQ queues holding a queue's jobs, as a JSON list: its partitions
(`partitions: K` > 1, names from platform_spec/keys.py through the facts), or
itself. Call with (dict "ctx" $ "queue" $queue). Queue.partition_names is the
Python side.
*/}}
{{- define "bullmq-platform.partitionNames" -}}
{{- $k := include "bullmq-platform.keys" .ctx | fromJson -}}
{{- $n := int (.queue.partitions | default 1) -}}
{{- $names := list -}}
{{- if le $n 1 -}}
{{- $names = list .queue.name -}}
{{- else -}}
{{- range $i := until $n -}}
{{- $names = append $names (printf $k.partitionFormat $.queue.name $i) -}}
{{- end -}}
{{- end -}}
{{- $names | toJson -}}
{{- end -}}

{{/* "true" when clients talk Redis Cluster: redis.mode cluster, or external.cluster. */}}
{{- define "bullmq-platform.redisCluster" -}}
{{- $r := .Values.redis -}}
{{- if or (eq $r.mode "cluster") (and (eq $r.mode "external") $r.external.cluster) -}}true{{- end -}}
{{- end -}}

{{/*
Keys whose sizes redis_exporter reports: each queue's backlog, busy, delayed and
failed keys, and its DLQ's waiting jobs (suffixes: platform_spec/keys.py via _facts.tpl).
*/}}
{{- define "bullmq-platform.exporterKeys" -}}
{{- $k := include "bullmq-platform.keys" . | fromJson -}}
{{- $keys := list -}}
{{- range $q := .Values.queues -}}
{{- $prefix := include "bullmq-platform.queuePrefix" (dict "ctx" $ "queue" $q.name) -}}
{{- range $part := include "bullmq-platform.partitionNames" (dict "ctx" $ "queue" $q) | fromJsonArray -}}
{{- $partPrefix := include "bullmq-platform.queuePrefix" (dict "ctx" $ "queue" $part) -}}
{{- range $suffix := $k.exported -}}
{{- $keys = append $keys (printf "db0=%s:%s:%s" $partPrefix $part $suffix) -}}
{{- end -}}
{{- end -}}
{{- if $q.deadLetter.enabled -}}
{{- $keys = append $keys (printf "db0=%s:%s%s:%s" $prefix $q.name $k.dlqQueueSuffix $k.dlqBacklog) -}}
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
