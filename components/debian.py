"""Which Debian release a stack runs on: named by `debianRelease`, or by `baseImage`'s tag.

The Docker images are built `FROM baseImage`, whatever it is; the release matters where no
image says it: the EC2 image to start from, and the check that given machines run what the
stack expects. An image tag such as `debian:trixie-slim`, `debian:13` or
`registry.example.com/debian:bookworm-20260101-slim` names its release; any other image needs
`debianRelease` to say it, or the default release is assumed. `debianRelease` alone picks the
release's slim image as the base.
"""

from __future__ import annotations

import re

from components.choices import DebianRelease

DEFAULT_RELEASE = DebianRelease.TRIXIE
_BY_VERSION = {str(r.version): r for r in DebianRelease}


def release_image(release: DebianRelease) -> str:
    """The slim image of a release, as Debian publishes it (and scripts/start-docker-engine.sh
    builds it where no registry answers)."""
    return f"debian:{release.value}-slim"


def parse_release(value: str) -> DebianRelease | None:
    """A codename (`trixie`) or a version (`13`, `13.2`), or None when neither."""
    text = value.strip().lower()
    try:
        return DebianRelease(text)
    except ValueError:
        return _BY_VERSION.get(text.split(".", 1)[0])


def release_of_image(image: str) -> DebianRelease | None:
    """The release an image reference of Debian's names in its tag; None when it names none
    (another repository, no tag, `latest`, `stable`, `testing`)."""
    reference = image.split("@", 1)[0]
    repository, colon, tag = reference.rpartition(":")
    if not colon or "/" in tag:  # no tag (the colon was a registry port's)
        return None
    if repository.rsplit("/", 1)[-1] != "debian":
        return None
    first = re.split(r"[-_]", tag, maxsplit=1)[0]
    return parse_release(first)
