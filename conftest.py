"""Project-wide pytest set-up. The runcancel plugin itself is loaded through its pytest11 entry point."""

import os

# httpx imports httpcore lazily and caches its exception classes; pytester's in-process runs restore
# sys.modules after each run, so httpcore must be loaded before any of them, once.
import httpcore  # noqa: F401
from hypothesis import HealthCheck, settings

# Property tests are reproducible in CI (no random seed, no example database to carry over).
settings.register_profile("ci", derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
