"""Rules about the platform's images that the spec enforces.

The spec's default repositories are placeholders: nothing is published there. A
dev stack may keep them (a local build, `scripts/image build`); any other
environment must name the registry the image was pushed to, or every pod ends in
ImagePullBackOff. The chart's NOTES.txt warns with the same text.
"""

from __future__ import annotations

PLACEHOLDER_REPOSITORY = "ghcr.io/example/bullmq-platform"
DASHBOARD_PLACEHOLDER_REPOSITORY = "ghcr.io/example/bullmq-platform-dashboard"
PLACEHOLDERS = frozenset({PLACEHOLDER_REPOSITORY, DASHBOARD_PLACEHOLDER_REPOSITORY})
PLACEHOLDER_MESSAGE = (
    "is the placeholder {repository!r}, where no image is published: build the image "
    "(scripts/image build), push it to your registry and set {field} "
    "(and its digest) to it; only environment 'dev' may keep the placeholder"
)


def image_problems(environment: str, repositories: dict[str, str]) -> list[tuple[str, str]]:
    """(field path, message) for each image a non-dev stack would pull from a placeholder.

    `repositories` maps a field path (`image.repository`) to the repository it holds.
    """
    if environment == "dev":
        return []
    return [
        (field, PLACEHOLDER_MESSAGE.format(repository=repository, field=field))
        for field, repository in repositories.items()
        if repository in PLACEHOLDERS
    ]
