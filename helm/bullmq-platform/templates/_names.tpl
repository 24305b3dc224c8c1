{{/*
Names and labels. One `define` per question; every object name is derived here.
Other helpers, one file per concern: _redis.tpl (where and how to reach Redis),
_runtime.tpl (pod parts of the worker and scheduler processes), _scaling.tpl
(KEDA's metrics-api endpoint on the scheduler).
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

{{/* HTTP port of every worker and scheduler process (/healthz, /readyz, /metrics). */}}
{{- define "bullmq-platform.httpPort" -}}{{ (include "bullmq-platform.facts" . | fromJson).httpPort }}{{- end -}}

{{/*
The DNS names of a Service: `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<clusterDomain>`,
as a JSON list; (dict "ctx" $ "name" NAME). infra/naming.py's `_forms` is the same rule.
*/}}
{{- define "bullmq-platform.dnsForms" -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- $domain := .ctx.Values.clusterDomain -}}
{{- list .name (printf "%s.%s" .name $ns) (printf "%s.%s.svc" .name $ns) (printf "%s.%s.svc.%s" .name $ns $domain) | toJson -}}
{{- end -}}

{{/*
The name clients use for a Service: `name.ns.svc.<clusterDomain>` (the last of its
dnsForms); (dict "ctx" $ "name" NAME). infra/naming.py's `service_host` is the same rule.
*/}}
{{- define "bullmq-platform.serviceHost" -}}
{{- include "bullmq-platform.dnsForms" . | fromJsonArray | last -}}
{{- end -}}
