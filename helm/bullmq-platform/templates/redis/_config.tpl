{{/*
Redis configuration. This is the one redis.conf of the platform: the pods mount
it, and the tests and the local stack run redis-server on this very text
(overriding only paths, bind address and port in a file that includes it).
*/}}

{{/* Where the pod mounts things. */}}
{{- define "bullmq-platform.redisPaths" -}}
{{- dict "tls" "/etc/redis/tls" "acl" "/etc/redis/acl/users.acl" "data" "/data" "conf" "/etc/redis/conf" "passwords" "/etc/redis/passwords" "local" "/etc/redis/acl/local" "node" "/etc/redis/node" | toJson -}}
{{- end -}}

{{- define "bullmq-platform.redisConf" -}}
{{- $r := .Values.redis -}}
{{- $paths := include "bullmq-platform.redisPaths" . | fromJson -}}
# redis.conf rendered by the bullmq-platform chart ({{ .Chart.Version }}).
bind * -::*
protected-mode yes
{{- if $r.tls.enabled }}
# TLS only: the plaintext port is closed.
port 0
tls-port {{ $r.port }}
tls-cert-file {{ $paths.tls }}/tls.crt
tls-key-file {{ $paths.tls }}/tls.key
tls-ca-cert-file {{ $paths.tls }}/ca.crt
tls-auth-clients {{ $r.tls.authClients }}
tls-protocols "TLSv1.2 TLSv1.3"
{{- else }}
# TLS off: allowed only for environment dev (the spec refuses it elsewhere).
port {{ $r.port }}
{{- end }}
# Data files go to the working directory: the pod sets workingDir to the PVC
# mount ({{ $paths.data }}); a local run starts redis-server in its data folder.
dir ./
# Persistence: AOF for every acknowledged write, RDB for fast restarts and backups.
{{- if $r.persistence.enabled }}
appendonly yes
appendfsync {{ $r.persistence.appendfsync }}
aof-use-rdb-preamble yes
aof-load-truncated yes
# The AOF carries every acknowledged write: a failed RDB snapshot (a fork refused
# under a tight memory limit, a full disk) raises BullmqRedisRdbSnapshotFailing
# instead of refusing every write with MISCONF.
stop-writes-on-bgsave-error no
save {{ range $i, $rule := $r.persistence.rdbSnapshots }}{{ if $i }} {{ end }}{{ $rule.seconds }} {{ $rule.changes }}{{ end }}
{{- else }}
appendonly no
save ""
{{- end }}
# BullMQ requires noeviction: any evicting policy deletes job keys silently.
maxmemory {{ $r.maxmemory }}
maxmemory-policy {{ $r.maxmemoryPolicy }}
{{- /* One request string may not exceed twice the largest queue's maxPayloadBytes plus
64 KiB (a DLQ entry holds the payload and its error), nor go below Redis's 1 MiB floor:
noeviction checks memory only before a command, so one huge write overshoots
maxmemory by its size (issue 25). */ -}}
{{- $largest := 0 }}
{{- range .Values.queues }}
{{- $largest = max $largest (int (default 0 .maxPayloadBytes)) }}
{{- end }}
# Largest single string a client may send: 2 x the largest maxPayloadBytes + 64 KiB, >= 1 MiB.
proto-max-bulk-len {{ max 1048576 (add (mul 2 $largest) 65536) }}
{{- if eq $r.mode "cluster" }}
# Redis Cluster (redis.mode cluster): this node owns a share of the 16384 hash slots
# or replicates a primary that does. nodes.conf lives on the data volume, so a
# restarted node rejoins with its identity. Full coverage is not required: while
# one shard fails over, queues on the other shards keep working.
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout {{ $r.cluster.nodeTimeoutMs }}
cluster-require-full-coverage no
cluster-allow-reads-when-down no
cluster-replica-validity-factor 0
cluster-migration-barrier 1
{{- if $r.tls.enabled }}
# The cluster bus and replication run over TLS too (the same certificate).
tls-cluster yes
tls-replication yes
{{- end }}
{{- if $r.auth.enabled }}
# Replicas log in to their primary as the `cluster` user; its password (masterauth)
# is written at start into a memory-backed file that includes this one.
masteruser cluster
{{- end }}
{{- end }}
{{- if eq $r.mode "sentinel" }}
{{- include "bullmq-platform.redisReplicationConf" . }}
{{- end }}
{{- if $r.auth.enabled }}
# ACL users (default user off), assembled at start from mounted Secret files and
# kept in step with them by the redis-reloader container (ACL SETUSER, no restart).
aclfile {{ $paths.acl }}
{{- else }}
# Auth off: allowed only for environment dev.
protected-mode no
{{- end }}
{{- end -}}

{{/*
ACL rules, one user per line: "<user> <rules>". No passwords here: the start
script adds "#<sha256>" of each user's mounted password file.
*/}}
{{- define "bullmq-platform.aclRules" -}}
{{- $keys := printf "~%s:*" .Values.keyPrefix -}}
{{- /* CLIENT SETINFO (7.2+) is left out: Redis 7.0 would reject the whole ACL file. */ -}}
{{- $conn := "+hello +auth +ping +select +client|setname +client|getname +client|id" -}}
{{- $clusterConn := "" -}}
{{- if eq .Values.redis.mode "cluster" }}
{{- /* Cluster clients discover the slot map (and the key positions of every command: COMMAND), follow ASK redirections, and may WAIT for a replica to hold their writes (replication is asynchronous: an add is kept through a failover once a replica has it). */}}
{{- $clusterConn = "+cluster|slots +cluster|shards +cluster|nodes +cluster|info +cluster|myid +asking +readonly +readwrite +command +wait" }}
{{- $conn = printf "%s %s" $conn $clusterConn }}
{{- end }}
{{- /* worker and scheduler: -@all, then exactly the commands platform_spec/acl_commands.py
derived from bullmq's scripts, the platform's scripts and the code (generated, never copied). */ -}}
{{- $allowed := include "bullmq-platform.aclCommands" . | fromJson }}
{{- $worker := "" }}
{{- range $allowed.worker }}{{ $worker = printf "%s +%s" $worker . }}{{ end }}
{{- $scheduler := "" }}
{{- range $allowed.scheduler }}{{ $scheduler = printf "%s +%s" $scheduler . }}{{ end }}
# Refused to the dashboard, whatever its categories allow (worker and scheduler hold an
# allow-list instead). SCAN lists the key names of every prefix (ACL key patterns do not
# filter it); BullMQ and the platform only scan inside their own keys (SSCAN, HSCAN, ZSCAN).
{{- $deny := "-@dangerous -script|flush -script|kill -function -flushall -flushdb -debug -config -keys -scan -shutdown -monitor -swapdb -migrate" }}
# BullMQ workers: exactly the commands BullMQ's scripts, the platform's scripts and the
# workers' code send (platform_spec/acl_commands.py; docs/security.md), on the prefix only.
worker {{ $keys }} -@all{{ $worker }}{{ if $clusterConn }} {{ $clusterConn }}{{ end }}
# The scheduler: job schedulers are BullMQ scripts too. Its watchdog may SCRIPT KILL a
# runaway script (scheduler/watchdog.py): the one role allowed to.
scheduler {{ $keys }} -@all{{ $scheduler }}{{ if $clusterConn }} {{ $clusterConn }}{{ end }}
{{- if eq .Values.keda.scaler "redis" }}
# KEDA: the redis scaler's Lua script (TYPE, then LLEN/ZCARD/SCARD/HLEN). Read-only by its
# commands: Redis 7 flags EVAL's keys read-write, so a %R key pattern would refuse it.
keda {{ $keys }} -@all +eval +evalsha +type +llen +zcard +scard +hlen {{ $conn }}
{{- else }}
# KEDA (scaler metricsApi) reads the scheduler's HTTPS endpoint, not Redis: its user may
# only authenticate (no EVAL, so no endless script can come from its credential).
keda {{ $keys }} -@all {{ $conn }}
{{- end }}
# redis_exporter: server statistics, and the sizes of the queue keys it watches (read-only).
exporter %R{{ $keys }} -@all {{ $conn }} +info +slowlog|get +slowlog|len +latency|latest +latency|histogram +dbsize +type +llen +zcard +scard +hlen +xlen +strlen +memory|usage
{{- include "bullmq-platform.dashboardAclRule" (dict "ctx" . "keys" $keys "deny" $deny "conn" $conn) }}
# The reloader sidecar (pod-local password): replays the users' passwords after a
# rotation and makes Redis re-read renewed certificate files. ACL SETUSER could
# grant anything, so its password never leaves the pod's memory-backed volume.
reloader -@all +acl|setuser +config|set +config|get {{ $conn }}
{{- if eq .Values.redis.mode "cluster" }}
# The cluster's own operations: replicas authenticate to their primary (masteruser),
# the in-pod bootstrap forms the cluster (CLUSTER MEET / ADDSLOTSRANGE / REPLICATE)
# and a reshard moves keys (MIGRATE, RESTORE-ASKING on the target).
cluster ~* -@all +@read +psync +replconf +sync +cluster +migrate +restore-asking +info {{ $conn }}
{{- end }}
{{- if eq .Values.redis.mode "sentinel" }}
{{- include "bullmq-platform.sentinelAclRules" (dict "conn" $conn) }}
{{- end }}
{{- if .Values.redis.auth.adminEnabled }}
# admin: people only, everything.
admin ~* &* +@all
{{- end }}
{{- end -}}
