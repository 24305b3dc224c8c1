"""Autoscaling that understands BullMQ.

- `signal`: reads one queue's state in one round trip (one Lua script) and
  turns it into the replicas the queue can really use now: paused, globally
  capped and rate-limited queues, busy workers, delayed work due soon and the
  age of the oldest waiting job all count. `scaling_payload` is the body the
  scheduler's read-only HTTP endpoint serves to KEDA's `metrics-api` scaler.
- `hpa`: what KEDA and the HorizontalPodAutoscaler do with a metric value
  (activation, AverageValue target, 10 % tolerance, min/max, behavior).
- `simulate`: replicas and backlog over time for an arrival curve; the
  evidence behind the chart's default autoscaling values.
"""
