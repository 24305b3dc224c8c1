"""Handler modules, one per queue of the seed catalog (the spec's `queues[].handler`)."""
