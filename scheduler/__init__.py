"""The scheduler service: registers the spec's schedules as BullMQ job schedulers."""
