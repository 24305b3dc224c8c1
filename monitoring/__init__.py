"""Prometheus side of the platform: the chart's rules, redis_exporter, Prometheus, the dashboard.

Everything here runs the real Debian binaries (`prometheus`, `promtool`,
`prometheus-redis-exporter`, installed by scripts/bootstrap) against the
platform's own processes: the alert tests, `scripts/local --monitoring` and the
dashboard picture (`python -m monitoring --help`) share it.
"""
