"""Worker runtime: `python -m workers --queue NAME` runs one queue's BullMQ worker.

Modules, one concept each: settings (env), connection (TLS + ACL Redis),
registry (handlers and payload models per job name), payloads (validation),
engine (the narrow interface of the fetch/finish loop) and engine_stock (the
stock `bullmq.Worker` behind it), runtime (one job's life: validate, run with a
timeout, retry or dead-letter; start, drain on SIGTERM, close), dlq, metrics,
health, logs, options (spec -> BullMQ job options), cli (typer).
"""
