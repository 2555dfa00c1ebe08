"""archlag: measure how late each architecture of a multi-arch container image is published."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("archlag")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
