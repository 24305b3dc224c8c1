{{/* Generated from platform_spec/pod_facts.py by `python -m platform_spec generate`. */}}
{{/* Ports, mount paths, DNS domain and grace margin the runtime also uses:
   (include "bullmq-platform.facts" . | fromJson).httpPort */}}
{{- define "bullmq-platform.facts" -}}
{"clusterDomain": "cluster.local", "clusterPrefixFormat": "%s:{%s}", "graceMarginSeconds": 30, "httpPort": 8080, "scalingCertDir": "/var/run/secrets/bullmq-platform/scaling-tls", "scalingPort": 8443, "scalingTokenFile": "/var/run/secrets/bullmq-platform/scaling-token", "secretsDir": "/var/run/secrets/bullmq-platform", "specDir": "/etc/bullmq-platform", "specFile": "/etc/bullmq-platform/spec.json"}
{{- end -}}
