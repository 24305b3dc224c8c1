"""Build the project's OCI images with buildah and run them with podman (no Docker daemon).

`scripts/image` is the command; `tests/image/` reuses the same machinery.
"""
