{{/* Runtime pod parts shared by the worker and scheduler Deployments. */}}

{{/* The UID/GID of the platform and dashboard images (Chart.yaml annotation; the builds get it too). */}}
{{- define "bullmq-platform.runtimeUid" -}}
{{- index .Chart.Annotations "bullmq-platform/runtime-uid" -}}
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
{{- if include "bullmq-platform.redisCluster" .ctx }}
# Redis Cluster: the host is one seed; clients discover every shard from it.
- name: BULLMQ_PLATFORM_REDIS_CLUSTER
  value: "true"
{{- end }}
{{- with include "bullmq-platform.sentinelAddresses" .ctx }}
# Ask these Sentinels for the primary at every (re)connect; they take the same
# user and password file as the data nodes.
- name: BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS
  value: {{ . | quote }}
- name: BULLMQ_PLATFORM_REDIS_SENTINEL_MASTER
  value: {{ include "bullmq-platform.sentinelMaster" $.ctx | quote }}
{{- $sentinelUser := ternary ($.ctx.Values.redis.external.sentinel.username | default "") $user (eq $.ctx.Values.redis.mode "external") }}
{{- if and $.ctx.Values.redis.auth.enabled $sentinelUser }}
- name: BULLMQ_PLATFORM_REDIS_SENTINEL_USERNAME
  value: {{ $sentinelUser | quote }}
{{- end }}
{{- end }}
- name: BULLMQ_PLATFORM_SPEC_FILE
  value: {{ (include "bullmq-platform.facts" .ctx | fromJson).specFile | quote }}
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
            # KEDA's client certificate must be signed by this CA.
            - key: ca.crt
              path: scaling-tls/client-ca.crt
      {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "bullmq-platform.runtimeMounts" -}}
{{- $facts := include "bullmq-platform.facts" . | fromJson }}
- name: spec
  mountPath: {{ $facts.specDir }}
  readOnly: true
- name: secrets
  mountPath: {{ $facts.secretsDir }}
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
