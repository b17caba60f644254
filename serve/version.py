"""The package's version, read from its installed metadata: pyproject.toml is the one place it is written."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "comment-moderation"
# Code run from a source tree that was never installed has no metadata to read; `pip install -e .` gives it.
UNINSTALLED = "0+unknown"


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNINSTALLED
