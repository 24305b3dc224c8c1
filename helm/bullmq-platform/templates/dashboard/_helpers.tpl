{{/* Names and paths of the dashboard (bull-board); see dashboard/ and docs/dashboard.md. */}}

{{- define "bullmq-platform.dashboardName" -}}
{{- printf "%s-dashboard" (include "bullmq-platform.fullname" .) -}}
{{- end -}}

{{- define "bullmq-platform.dashboardImage" -}}
{{- include "bullmq-platform.imageRef" .Values.dashboard.image -}}
{{- end -}}

{{/* Name of the Secret holding the basic-auth password (never created by the chart). */}}
{{- define "bullmq-platform.dashboardAuthSecret" -}}
{{- required "dashboard.auth.existingSecret is required with dashboard.auth.mode basic: name the Secret holding the dashboard password (Pulumi fills it for source generated; GitOps users create it first)" .Values.dashboard.auth.existingSecret -}}
{{- end -}}

{{/* Where the basic-auth password file is mounted (outside the projected secrets folder). */}}
{{- define "bullmq-platform.dashboardAuthDir" -}}/var/run/secrets/bullmq-platform-dashboard{{- end -}}

{{/* "true" when basic auth is on (the password Secret is mounted), "" for proxyHeader. */}}
{{- define "bullmq-platform.dashboardBasicAuth" -}}
{{- if eq .Values.dashboard.auth.mode "basic" -}}true{{- end -}}
{{- end -}}
