{{/* Redis: its Secrets, how clients reach it, and which keys redis_exporter watches. */}}

{{/* Name of the Secret holding one password per ACL user (never created by the chart). */}}
{{- define "bullmq-platform.authSecret" -}}
{{- required "redis.auth.existingSecret is required: name the Secret holding one password per ACL user (Pulumi fills it for source generated; GitOps users create it first)" .Values.redis.auth.existingSecret -}}
{{- end -}}

{{/* Name of the Secret holding tls.crt, tls.key and ca.crt. */}}
{{- define "bullmq-platform.tlsSecret" -}}
{{- if and (eq .Values.redis.tls.source "certManager") (eq .Values.redis.mode "in-cluster") -}}
{{- printf "%s-tls" (include "bullmq-platform.redisName" .) -}}
{{- else -}}
{{- required "redis.tls.existingSecret is required: name the Secret holding tls.crt, tls.key and ca.crt (Pulumi fills it for source generated; GitOps users create it first)" .Values.redis.tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Host the workers, scheduler and KEDA connect to: the client Service, or the managed Redis. */}}
{{- define "bullmq-platform.redisHost" -}}
{{- if eq .Values.redis.mode "external" -}}
{{- .Values.redis.external.host -}}
{{- else -}}
{{- printf "%s.%s.svc" (include "bullmq-platform.redisName" .) .Release.Namespace -}}
{{- end -}}
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

{{/* "true" when clients talk Redis Cluster: redis.mode cluster, or external.cluster. */}}
{{- define "bullmq-platform.redisCluster" -}}
{{- $r := .Values.redis -}}
{{- if or (eq $r.mode "cluster") (and (eq $r.mode "external") $r.external.cluster) -}}true{{- end -}}
{{- end -}}

{{/* Keys whose sizes redis_exporter reports: each queue's backlog, busy, delayed and failed sets. */}}
{{- define "bullmq-platform.exporterKeys" -}}
{{- $keys := list -}}
{{- range $q := .Values.queues -}}
{{- range $suffix := list "wait" "prioritized" "active" "delayed" "failed" -}}
{{- $prefix := include "bullmq-platform.queuePrefix" (dict "ctx" $ "queue" $q.name) -}}
{{- $keys = append $keys (printf "db0=%s:%s:%s" $prefix $q.name $suffix) -}}
{{- end -}}
{{- if $q.deadLetter.enabled -}}{{/* the DLQ's waiting jobs: PlatformSpec Queue.dlq_name */}}
{{- $prefix := include "bullmq-platform.queuePrefix" (dict "ctx" $ "queue" $q.name) -}}
{{- $keys = append $keys (printf "db0=%s:%s-dlq:wait" $prefix $q.name) -}}
{{- end -}}
{{- end -}}
{{- join "," $keys -}}
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
{{- $domain := (include "bullmq-platform.facts" . | fromJson).clusterDomain -}}
{{- $sans := list -}}
{{- $hosts := list $name $headless -}}
{{- if include "bullmq-platform.metricsApi" . -}}
{{- $hosts = append $hosts (include "bullmq-platform.schedulerName" .) -}}
{{- end -}}
{{- range $host := append $hosts (printf "%s-0.%s" $name $headless) -}}
{{- $sans = concat $sans (include "bullmq-platform.dnsForms" (dict "ctx" $ "name" $host) | fromJsonArray) -}}
{{- end -}}
{{- $sans = append $sans (printf "*.%s.%s.svc" $headless $ns) -}}
{{- $sans = append $sans (printf "*.%s.%s.svc.%s" $headless $ns $domain) -}}
{{- append $sans "localhost" | toJson -}}
{{- end -}}
