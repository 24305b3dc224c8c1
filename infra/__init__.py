"""The Pulumi program: stack config -> secrets, certificates, optional KEDA, the chart.

`__main__.py` is the entry point Pulumi runs (`main: infra/` in Pulumi.yaml); it
only reads config, calls `program.deploy` and exports. Each concern is one
ComponentResource in its own module.
"""
