"""Redis keys the scheduler and the maintenance jobs own (BullMQ's own are in platform_spec.keys).

They live under the platform's BullMQ prefix, so the `scheduler` and `worker`
ACL users (`~<prefix>:*`) may touch them, in a `_platform` namespace: a queue
name is a DNS-1123 label and cannot contain `_`, so no queue's keys collide.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "_platform"


@dataclass(frozen=True)
class PlatformKeys:
    """Key names of the platform's own records under one BullMQ prefix."""

    prefix: str

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, NAMESPACE, *parts))

    @property
    def scheduler_lock(self) -> str:
        """String: the replica that holds it reconciles (SET NX PX)."""
        return self._key("scheduler", "lock")

    def owned(self, owner: str) -> str:
        """Hash `<queue>/<schedule id>` -> fingerprint of what this stack registered."""
        return self._key("scheduler", "owned", owner)

    @property
    def schedule_runs(self) -> str:
        """Hash `<schedule id>:<field>` -> last success / skip timestamps and counts."""
        return self._key("schedules", "runs")

    @property
    def health(self) -> str:
        """String (JSON): the last health-check report."""
        return self._key("health", "last")

    def rollup(self, queue: str, hour: str) -> str:
        """Hash: one queue's metrics for one UTC hour (`YYYYMMDDHH`)."""
        return self._key("rollup", queue, hour)

    def rollup_index(self, queue: str) -> str:
        """Sorted set: rollup hours of a queue, scored by the hour's epoch seconds."""
        return self._key("rollup-index", queue)

    @property
    def maintenance_reports(self) -> str:
        """Hash `<job name>` -> JSON of its last report."""
        return self._key("maintenance", "last")
