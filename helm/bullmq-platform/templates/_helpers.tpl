{{/*
Names and labels. One `define` per question; every object name is derived here.
*/}}

{{/* Base name of every object: fullnameOverride, or release[-chart]. */}}
{{- define "bullmq-platform.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bullmq-platform.redisName" -}}
{{- printf "%s-redis" (include "bullmq-platform.fullname" .) -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "bullmq-platform.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "redis"). */}}
{{- define "bullmq-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one component: common labels plus its selector labels. (dict "ctx" $ "component" "worker") */}}
{{- define "bullmq-platform.componentLabels" -}}
{{ include "bullmq-platform.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* "repository:tag", or "repository@digest" when a digest is set (immutable deploys). */}}
{{- define "bullmq-platform.imageRef" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}

{{- define "bullmq-platform.image" -}}
{{- include "bullmq-platform.imageRef" .Values.image -}}
{{- end -}}

{{- define "bullmq-platform.workerName" -}}
{{- printf "%s-worker-%s" (include "bullmq-platform.fullname" .ctx) .queue.name -}}
{{- end -}}

{{- define "bullmq-platform.schedulerName" -}}
{{- printf "%s-scheduler" (include "bullmq-platform.fullname" .) -}}
{{- end -}}

{{/*
"true" when KEDA reads each queue's desired pods from the scheduler's scaling
endpoint (keda.scaler metricsApi), "" for the plain redis triggers or no KEDA.
*/}}
{{- define "bullmq-platform.metricsApi" -}}
{{- if and .Values.keda.enabled (eq .Values.keda.scaler "metricsApi") -}}true{{- end -}}
{{- end -}}

{{/* HTTPS port of the scheduler's scaling endpoint (the scheduler reads it from env). */}}
{{- define "bullmq-platform.scalingPort" -}}8443{{- end -}}

{{/* Where the scheduler finds KEDA's bearer token and its serving certificate. */}}
{{- define "bullmq-platform.scalingTokenFile" -}}/var/run/secrets/bullmq-platform/scaling-token{{- end -}}
{{- define "bullmq-platform.scalingCertDir" -}}/var/run/secrets/bullmq-platform/scaling-tls{{- end -}}

{{/* DNS names of the scheduler Service; the scaling endpoint's certificate must cover them. */}}
{{- define "bullmq-platform.schedulerDnsNames" -}}
{{- $name := include "bullmq-platform.schedulerName" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) | toJson -}}
{{- end -}}

{{/* URL KEDA's metrics-api scaler polls for one queue: (dict "ctx" $ "queue" $queue). */}}
{{- define "bullmq-platform.scalingUrl" -}}
{{- printf "https://%s.%s.svc:%s/scaling/%s" (include "bullmq-platform.schedulerName" .ctx) .ctx.Release.Namespace (include "bullmq-platform.scalingPort" .ctx) .queue.name -}}
{{- end -}}

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

{{/* Pod security context shared by every pod of the chart. */}}
{{- define "bullmq-platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context: non-root, read-only root filesystem, no capabilities. */}}
{{- define "bullmq-platform.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Kubernetes resources from a spec Resources object. */}}
{{- define "bullmq-platform.resources" -}}
requests:
  cpu: {{ .cpuRequest | quote }}
  memory: {{ .memoryRequest | quote }}
limits:
  {{- if .cpuLimit }}
  cpu: {{ .cpuLimit | quote }}
  {{- end }}
  memory: {{ .memoryLimit | quote }}
{{- end -}}

{{/*
Env and secret volume of a runtime process (worker or scheduler): call with
(dict "ctx" $ "role" "worker"). Passwords and the CA arrive as files, never as env values.
*/}}
{{- define "bullmq-platform.runtimeEnv" -}}
- name: BULLMQ_PLATFORM_REDIS_HOST
  value: {{ include "bullmq-platform.redisHost" .ctx | quote }}
- name: BULLMQ_PLATFORM_REDIS_PORT
  value: {{ include "bullmq-platform.redisPort" .ctx | quote }}
{{- $user := include "bullmq-platform.redisUser" . }}
{{- if and .ctx.Values.redis.auth.enabled $user }}
- name: BULLMQ_PLATFORM_REDIS_USERNAME
  value: {{ $user | quote }}
{{- end }}
- name: BULLMQ_PLATFORM_REDIS_TLS
  value: {{ .ctx.Values.redis.tls.enabled | quote }}
- name: BULLMQ_PLATFORM_SPEC_FILE
  value: /etc/bullmq-platform/spec.json
{{- end -}}

{{- define "bullmq-platform.runtimeVolumes" -}}
- name: spec
  configMap:
    name: {{ include "bullmq-platform.fullname" .ctx }}-spec
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      {{- if .ctx.Values.redis.auth.enabled }}
      - secret:
          name: {{ include "bullmq-platform.authSecret" .ctx }}
          items:
            - key: {{ index .ctx.Values.redis.auth.passwordKeys .role }}
              path: password
      {{- end }}
      {{- if .ctx.Values.redis.tls.enabled }}
      - secret:
          name: {{ include "bullmq-platform.tlsSecret" .ctx }}
          items:
            - key: ca.crt
              path: ca.crt
      {{- end }}
      {{- if and (eq .role "scheduler") (include "bullmq-platform.metricsApi" .ctx) }}
      # The scaling endpoint: KEDA's bearer token and the serving certificate.
      - secret:
          name: {{ include "bullmq-platform.authSecret" .ctx }}
          items:
            - key: {{ .ctx.Values.redis.auth.passwordKeys.scalingToken }}
              path: scaling-token
      - secret:
          name: {{ include "bullmq-platform.tlsSecret" .ctx }}
          items:
            - key: tls.crt
              path: scaling-tls/tls.crt
            - key: tls.key
              path: scaling-tls/tls.key
      {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "bullmq-platform.runtimeMounts" -}}
- name: spec
  mountPath: /etc/bullmq-platform
  readOnly: true
- name: secrets
  mountPath: /var/run/secrets/bullmq-platform
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Probes of a runtime process: its one HTTP port serves /healthz and /readyz. */}}
{{- define "bullmq-platform.runtimeProbes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 5
  failureThreshold: 24
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/*
Checksums of what a pod reads at start: a changed spec, config or Secret name rolls the pods.
*/}}
{{- define "bullmq-platform.secretRefsChecksum" -}}
{{- $refs := list .Values.redis.auth.existingSecret .Values.redis.tls.existingSecret .Values.redis.auth.passwordKeys -}}
{{- $refs | toJson | sha256sum -}}
{{- end -}}

{{/* Keys whose sizes redis_exporter reports: each queue's backlog, busy, delayed and failed sets. */}}
{{- define "bullmq-platform.exporterKeys" -}}
{{- $keys := list -}}
{{- range $q := .Values.queues -}}
{{- range $suffix := list "wait" "prioritized" "active" "delayed" "failed" -}}
{{- $keys = append $keys (printf "db0=%s:%s:%s" $.Values.keyPrefix $q.name $suffix) -}}
{{- end -}}
{{- if $q.deadLetter.enabled -}}{{/* the DLQ's waiting jobs: PlatformSpec Queue.dlq_name */}}
{{- $keys = append $keys (printf "db0=%s:%s-dlq:wait" $.Values.keyPrefix $q.name) -}}
{{- end -}}
{{- end -}}
{{- join "," $keys -}}
{{- end -}}
