"""Rules about the platform image that the spec enforces.

The chart's and the spec's default repository is a placeholder: nothing is
published there. A dev stack may keep it (a local build, `scripts/image build`);
any other environment must name the registry the image was pushed to, or every
pod ends in ImagePullBackOff. The chart's NOTES.txt warns with the same text.
"""

from __future__ import annotations

PLACEHOLDER_REPOSITORY = "ghcr.io/example/bullmq-platform"
PLACEHOLDER_MESSAGE = (
    "is the placeholder {repository!r}, where no image is published: build the image "
    "(scripts/image build), push it to your registry and set image.repository "
    "(and image.digest) to it; only environment 'dev' may keep the placeholder"
)


def image_problems(environment: str, repository: str) -> list[tuple[str, str]]:
    """(field path, message) when a non-dev stack deploys the placeholder repository."""
    if environment == "dev" or repository != PLACEHOLDER_REPOSITORY:
        return []
    return [("image.repository", PLACEHOLDER_MESSAGE.format(repository=repository))]
