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
{{/* Generated from platform_spec/acl_commands.py: the only commands the worker and
   scheduler ACL users may run (templates/redis/_config.tpl): .worker, .scheduler */}}
{{- define "bullmq-platform.aclCommands" -}}
{"scheduler": ["auth", "client|setname", "del", "discard", "eval", "evalsha", "exec", "exists", "get", "hdel", "hello", "hexists", "hget", "hgetall", "hincrby", "hlen", "hmget", "hmset", "hscan", "hset", "hsetnx", "incr", "info", "lindex", "llen", "lpop", "lpos", "lpush", "lrange", "lrem", "lset", "ltrim", "multi", "persist", "pexpire", "ping", "pttl", "quit", "rename", "rpop", "rpoplpush", "rpush", "sadd", "scard", "script|exists", "script|kill", "script|load", "select", "set", "sismember", "smembers", "srem", "sscan", "time", "wait", "xadd", "xrevrange", "xtrim", "zadd", "zcard", "zcount", "zpopmin", "zrange", "zrangebyscore", "zrem", "zremrangebyrank", "zremrangebyscore", "zrevrange", "zrevrangebyscore", "zscore"], "worker": ["auth", "bzpopmin", "client|list", "client|setname", "del", "discard", "eval", "evalsha", "exec", "exists", "expire", "get", "hdel", "hello", "hexists", "hget", "hgetall", "hincrby", "hlen", "hmget", "hmset", "hscan", "hset", "hsetnx", "incr", "info", "lindex", "llen", "lpop", "lpos", "lpush", "lrange", "lrem", "lset", "ltrim", "multi", "persist", "pexpire", "ping", "pttl", "quit", "rename", "rpop", "rpoplpush", "rpush", "sadd", "scard", "script|exists", "script|load", "select", "set", "sismember", "smembers", "srem", "sscan", "time", "wait", "xadd", "xread", "xrevrange", "xtrim", "zadd", "zcard", "zcount", "zpopmin", "zrange", "zrangebyscore", "zrem", "zremrangebyrank", "zremrangebyscore", "zrevrange", "zrevrangebyscore", "zscore"]}
{{- end -}}
