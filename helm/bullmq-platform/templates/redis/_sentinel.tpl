{{/*
Replication and Sentinel (redis.mode sentinel). Secrets never appear here: the
start script (files/sentinel-node.sh) adds `masterauth`, Sentinel's auth-pass /
sentinel-pass and the Sentinel ACL users' password hashes from the mounted
password files, plus each node's own announce name and the primary to follow.
*/}}

{{/* Lines added to redis.conf on every node of a Sentinel setup. */}}
{{- define "bullmq-platform.redisReplicationConf" -}}
{{- $s := .Values.redis.sentinel }}
# Replication (redis.mode sentinel): replicas log in as the `replication` ACL user
# over TLS; sentinel-node.sh adds masterauth, the announce name and replicaof.
{{- if .Values.redis.tls.enabled }}
tls-replication yes
{{- end }}
masteruser replication
replica-read-only yes
replica-serve-stale-data yes
# A primary that sees fewer than {{ $s.minReplicasToWrite }} replica(s) refuses writes, so a
# partitioned old primary cannot accept enqueues that the failover then discards.
min-replicas-to-write {{ $s.minReplicasToWrite }}
min-replicas-max-lag {{ $s.minReplicasMaxLagSeconds }}
{{- end -}}

{{/* ACL users of the data nodes that replication and Sentinel need. */}}
{{- define "bullmq-platform.sentinelAclRules" }}
# Replicas: the replication stream only.
replication -@all +psync +replconf +ping {{ .conn }}
# Sentinels: monitor, publish hello messages, promote and reconfigure (Redis's documented set).
sentinel -@all &* +multi +exec +slaveof +replicaof +ping +subscribe +publish +config|rewrite +role +info +client|kill +script|kill {{ .conn }}
{{- end -}}

{{/* sentinel.conf before sentinel-node.sh fills in the node's names and secrets. */}}
{{- define "bullmq-platform.sentinelConf" -}}
{{- $r := .Values.redis -}}
{{- $s := $r.sentinel -}}
{{- $paths := include "bullmq-platform.redisPaths" . | fromJson -}}
# sentinel.conf rendered by the bullmq-platform chart ({{ .Chart.Version }}).
# Sentinel rewrites its own copy (a writable volume); this is the seed.
bind * -::*
protected-mode no
{{- if $r.tls.enabled }}
port 0
tls-port {{ $s.port }}
tls-cert-file {{ $paths.tls }}/tls.crt
tls-key-file {{ $paths.tls }}/tls.key
tls-ca-cert-file {{ $paths.tls }}/ca.crt
tls-auth-clients {{ $r.tls.authClients }}
# Sentinel talks TLS to the data nodes and to its peers.
tls-replication yes
{{- else }}
port {{ $s.port }}
{{- end }}
dir ./
# Pods come and go with new IPs: Sentinels name nodes by their stable DNS names.
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel monitor {{ $s.masterName }} PRIMARY_HOST PRIMARY_PORT {{ $s.quorum }}
sentinel down-after-milliseconds {{ $s.masterName }} {{ $s.downAfterMilliseconds }}
sentinel failover-timeout {{ $s.masterName }} {{ $s.failoverTimeoutMilliseconds }}
sentinel parallel-syncs {{ $s.masterName }} 1
{{- if $r.auth.enabled }}
sentinel auth-user {{ $s.masterName }} sentinel
sentinel sentinel-user sentinel
{{- end }}
{{- end -}}


{{/*
Sentinel addresses clients ask for the primary ("host:port,..."), and the master
name; "" when Redis is not behind Sentinels. In-cluster: every pod's Sentinel by
its stable name (each is in the server certificate); external: as configured.
*/}}
{{- define "bullmq-platform.sentinelAddresses" -}}
{{- $r := .Values.redis -}}
{{- if eq $r.mode "sentinel" -}}
{{- $addresses := list -}}
{{- range $i := until (int (add1 $r.sentinel.replicas)) -}}
{{- $addresses = append $addresses (printf "%s:%v" (include "bullmq-platform.redisPodHost" (dict "ctx" $ "ordinal" $i)) $r.sentinel.port) -}}
{{- end -}}
{{- join "," $addresses -}}
{{- else if and (eq $r.mode "external") $r.external.sentinel.addresses -}}
{{- join "," $r.external.sentinel.addresses -}}
{{- end -}}
{{- end -}}

{{- define "bullmq-platform.sentinelMaster" -}}
{{- if eq .Values.redis.mode "sentinel" -}}
{{- .Values.redis.sentinel.masterName -}}
{{- else -}}
{{- .Values.redis.external.sentinel.masterName | default "" -}}
{{- end -}}
{{- end -}}
