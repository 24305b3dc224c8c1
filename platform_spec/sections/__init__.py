"""The sections of the spec, one module per area; platform_spec/model.py assembles them."""
