{{/* Redis Cluster (redis.mode cluster): names and the peer list of the in-pod bootstrap. */}}

{{/* The cluster bus port: Redis's default, the client port + 10000. */}}
{{- define "bullmq-platform.redisBusPort" -}}
{{- add .Values.redis.port 10000 -}}
{{- end -}}

{{/* Pods of the cluster: shards x (1 + replicasPerShard). */}}
{{- define "bullmq-platform.redisClusterNodes" -}}
{{- $c := .Values.redis.cluster -}}
{{- mul $c.shards (add 1 $c.replicasPerShard) -}}
{{- end -}}

{{/* A pod's stable DNS name under the headless Service (in the certificate's wildcard SAN). */}}
{{- define "bullmq-platform.redisPodHost" -}}
{{- printf "%s.%s-headless.%s.svc" .pod (include "bullmq-platform.redisName" .ctx) .ctx.Release.Namespace -}}
{{- end -}}

{{/* PEERS of files/redis-cluster-bootstrap.sh: host:port:busport of every pod, pod 0 first. */}}
{{- define "bullmq-platform.redisClusterPeers" -}}
{{- $name := include "bullmq-platform.redisName" . -}}
{{- $bus := include "bullmq-platform.redisBusPort" . -}}
{{- $peers := list -}}
{{- range $i := until (int (include "bullmq-platform.redisClusterNodes" .)) -}}
{{- $host := include "bullmq-platform.redisPodHost" (dict "ctx" $ "pod" (printf "%s-%d" $name $i)) -}}
{{- $peers = append $peers (printf "%s:%v:%v" $host $.Values.redis.port $bus) -}}
{{- end -}}
{{- join " " $peers -}}
{{- end -}}
