{{/* Scaling: the scheduler's endpoint that KEDA's metrics-api scaler polls. */}}

{{/*
"true" when KEDA reads each queue's desired pods from the scheduler's scaling
endpoint (keda.scaler metricsApi), "" for the plain redis triggers or no KEDA.
*/}}
{{- define "bullmq-platform.metricsApi" -}}
{{- if and .Values.keda.enabled (eq .Values.keda.scaler "metricsApi") -}}true{{- end -}}
{{- end -}}

{{/* HTTPS port of the scheduler's scaling endpoint (the scheduler reads it from env). */}}
{{- define "bullmq-platform.scalingPort" -}}{{ (include "bullmq-platform.facts" . | fromJson).scalingPort }}{{- end -}}

{{/* Where the scheduler finds KEDA's bearer token and its serving certificate. */}}
{{- define "bullmq-platform.scalingTokenFile" -}}{{ (include "bullmq-platform.facts" . | fromJson).scalingTokenFile }}{{- end -}}
{{- define "bullmq-platform.scalingCertDir" -}}{{ (include "bullmq-platform.facts" . | fromJson).scalingCertDir }}{{- end -}}

{{/* KEDA's client certificate for the scaling endpoint: its Secret and keys. Never the
Redis server's key: cert-manager issues a separate Certificate; otherwise the Redis TLS
Secret carries it under keda.clientCertKey / keda.clientKeyKey (Pulumi writes them). */}}
{{- define "bullmq-platform.kedaClientCert" -}}
{{- if eq .Values.redis.tls.source "certManager" -}}
{{- dict "secret" (printf "%s-keda-client-tls" (include "bullmq-platform.redisName" .)) "cert" "tls.crt" "key" "tls.key" | toJson -}}
{{- else -}}
{{- dict "secret" (include "bullmq-platform.tlsSecret" .) "cert" .Values.keda.clientCertKey "key" .Values.keda.clientKeyKey | toJson -}}
{{- end -}}
{{- end -}}

{{/* DNS names of the scheduler Service; the scaling endpoint's certificate must cover them. */}}
{{- define "bullmq-platform.schedulerDnsNames" -}}
{{- $name := include "bullmq-platform.schedulerName" . -}}
{{- $ns := .Release.Namespace -}}
{{- include "bullmq-platform.dnsForms" (dict "ctx" . "name" $name) -}}
{{- end -}}

{{/* URL KEDA's metrics-api scaler polls for one queue: (dict "ctx" $ "queue" $queue). */}}
{{- define "bullmq-platform.scalingUrl" -}}
{{- $host := include "bullmq-platform.serviceHost" (dict "ctx" .ctx "name" (include "bullmq-platform.schedulerName" .ctx)) -}}
{{- printf "https://%s:%s/scaling/%s" $host (include "bullmq-platform.scalingPort" .ctx) .queue.name -}}
{{- end -}}
