"""Project-wide pytest set-up. The runcancel plugin itself is loaded through its pytest11 entry point."""

import os

# pytester's in-process runs restore sys.modules after each run, so what such a run imports first is
# imported afresh by the next. httpx imports httpcore lazily and caches its exception classes; PyYAML's
# libyaml parser (an extension module, never imported twice) keeps building the node classes of the
# first `yaml` package, which a second one does not recognise. Both are loaded here, once.
import httpcore  # noqa: F401
import yaml  # noqa: F401
from hypothesis import HealthCheck, settings

# Property tests are reproducible in CI (no random seed, no example database to carry over).
settings.register_profile("ci", derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
