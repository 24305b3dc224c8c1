{{/* Generated from platform_spec/pod_facts.py by `python -m platform_spec generate`. */}}
{{/* Ports, mount paths and grace margin the runtime also uses:
   (include "bullmq-platform.facts" . | fromJson).httpPort */}}
{{- define "bullmq-platform.facts" -}}
{"clusterPrefixFormat": "%s:{%s}", "graceMarginSeconds": 30, "httpPort": 8080, "memoryWarningMarginPercent": 10, "scalingCertDir": "/var/run/secrets/bullmq-platform/scaling-tls", "scalingPort": 8443, "scalingTokenFile": "/var/run/secrets/bullmq-platform/scaling-token", "secretsDir": "/var/run/secrets/bullmq-platform", "specDir": "/etc/bullmq-platform", "specFile": "/etc/bullmq-platform/spec.json"}
{{- end -}}
{{/* Generated from platform_spec/keys.py: the BullMQ key suffixes templates build
   keys from: (include "bullmq-platform.keys" . | fromJson).backlog */}}
{{- define "bullmq-platform.keys" -}}
{"backlog": ["wait", "prioritized"], "busy": ["active"], "delayed": "delayed", "dlqBacklog": "wait", "dlqQueueSuffix": "-dlq", "exported": ["wait", "prioritized", "active", "delayed", "failed"], "failed": "failed", "partitionFormat": "%s-p%d", "partitionPattern": "%s-p[0-9]+"}
{{- end -}}
