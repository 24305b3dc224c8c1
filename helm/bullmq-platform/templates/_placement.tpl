{{/* Pod placement: spreading replicas over nodes, priority. Values under `scheduling`. */}}

{{/*
Topology spread of one workload's replicas: (dict "ctx" $ "matchLabels" <map>).
Soft by default (ScheduleAnyway): a small cluster still schedules every pod.
*/}}
{{- define "bullmq-platform.placement" -}}
{{- $s := .ctx.Values.scheduling -}}
{{- if $s.priorityClassName }}
priorityClassName: {{ $s.priorityClassName | quote }}
{{- end }}
{{- if ne $s.topologySpread "off" }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: {{ $s.topologyKey | quote }}
    whenUnsatisfiable: {{ ternary "DoNotSchedule" "ScheduleAnyway" (eq $s.topologySpread "hard") }}
    labelSelector:
      matchLabels:
        {{- toYaml .matchLabels | nindent 8 }}
{{- end }}
{{- end -}}
