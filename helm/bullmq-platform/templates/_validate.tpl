{{/*
Cross-field rules that JSON Schema cannot express, repeated from the spec's
model validators for GitOps users who never run our Python. Every message starts
with the field path; all of them are collected, then the render fails once.
*/}}
{{- define "bullmq-platform.validateValues" -}}
{{- $msgs := list -}}
{{- $r := .Values.redis -}}
{{- /* The scheduler's ownership id and every runtime name use the spec's namespace: it must be the release's. */ -}}
{{- if ne .Values.namespace .Release.Namespace -}}
{{- $msgs = append $msgs (printf "namespace: %q differs from the release namespace %q (.Release.Namespace); install with --namespace %s or set namespace: %s" .Values.namespace .Release.Namespace .Values.namespace .Release.Namespace) -}}
{{- end -}}
{{- if and (eq $r.mode "external") (not $r.external.host) -}}
{{- $msgs = append $msgs "redis.external.host: required when redis.mode is external" -}}
{{- end -}}
{{- if and (eq $r.tls.source "existingSecret") (not $r.tls.existingSecret) -}}
{{- $msgs = append $msgs "redis.tls.existingSecret: required when redis.tls.source is existingSecret" -}}
{{- end -}}
{{- if and (eq $r.tls.source "certManager") (not $r.tls.certManagerIssuer) -}}
{{- $msgs = append $msgs "redis.tls.certManagerIssuer: required when redis.tls.source is certManager" -}}
{{- end -}}
{{- if and (eq $r.auth.source "existingSecret") (not $r.auth.existingSecret) -}}
{{- $msgs = append $msgs "redis.auth.existingSecret: required when redis.auth.source is existingSecret" -}}
{{- end -}}
{{- if ne .Values.environment "dev" -}}
{{- range $path, $on := dict "redis.tls.enabled" $r.tls.enabled "redis.auth.enabled" $r.auth.enabled "redis.persistence.enabled" (or $r.persistence.enabled (eq $r.mode "external")) -}}
{{- if not $on -}}
{{- $msgs = append $msgs (printf "%s: must be true for environment %q" $path $.Values.environment) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $i, $q := .Values.queues -}}
{{- $auto := $q.autoscaling -}}
{{- if gt (int $auto.minReplicas) (int $auto.maxReplicas) -}}
{{- $msgs = append $msgs (printf "queues[%d].autoscaling.minReplicas: %v exceeds maxReplicas %v" $i $auto.minReplicas $auto.maxReplicas) -}}
{{- end -}}
{{- if and (eq (int $auto.minReplicas) 0) (not (and $.Values.keda.enabled $auto.wakeOnDelayed)) -}}
{{- $msgs = append $msgs (printf "queues[%d].autoscaling.minReplicas: 0 would strand delayed jobs unless keda.enabled and wakeOnDelayed are true" $i) -}}
{{- end -}}
{{- if and $q.terminationGracePeriodSeconds (ge (int $q.jobTimeoutSeconds) (int $q.terminationGracePeriodSeconds)) -}}
{{- $msgs = append $msgs (printf "queues[%d].jobTimeoutSeconds: %v must be below terminationGracePeriodSeconds %v" $i $q.jobTimeoutSeconds $q.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- end -}}
{{- if include "bullmq-platform.metricsApi" . -}}
{{- $why := "keda.scaler metricsApi reads every queue's desired pods from the scheduler" -}}
{{- if lt (int .Values.scheduler.replicas) 1 -}}
{{- $msgs = append $msgs (printf "scheduler.replicas: must be at least 1: %s" $why) -}}
{{- end -}}
{{- if not $r.tls.enabled -}}
{{- $msgs = append $msgs "redis.tls.enabled: must be true with keda.scaler metricsApi: the scaling endpoint's certificate comes from the TLS Secret (or use keda.scaler redis)" -}}
{{- end -}}
{{- if not $r.auth.enabled -}}
{{- $msgs = append $msgs "redis.auth.enabled: must be true with keda.scaler metricsApi: KEDA's bearer token (passwordKeys.scalingToken) lives in the auth Secret (or use keda.scaler redis)" -}}
{{- end -}}
{{- end -}}
{{- /* Redis Cluster: a flow's queues must share one hash slot (PlatformSpec: ClusterMode.layout_problems). */ -}}
{{- if include "bullmq-platform.redisCluster" . -}}
{{- range $i, $f := $r.cluster.flows -}}
{{- $prefixes := dict -}}
{{- range $q := $f.queues -}}
{{- $_ := set $prefixes (include "bullmq-platform.queuePrefix" (dict "ctx" $ "queue" $q)) true -}}
{{- end -}}
{{- if gt (len $prefixes) 1 -}}
{{- $msgs = append $msgs (printf "redis.cluster.flows[%d].queues: flow %q crosses hash slots (%s): put these queues in one redis.cluster.tagGroups entry" $i $f.name (join ", " (keys $prefixes | sortAlpha))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $msgs -}}
{{- fail (printf "\n\nVALUES VALIDATION:\n%s" (join "\n" $msgs)) -}}
{{- end -}}
{{- end -}}
