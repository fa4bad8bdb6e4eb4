"""runcancel: contract tests for the OpenAI Assistants v2 cancel-run endpoint."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("runcancel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
