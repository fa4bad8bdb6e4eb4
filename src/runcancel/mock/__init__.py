"""The reference mock of the Assistants v2 runs API, cancel endpoint included.

``create_app(config)`` gives the ASGI app; ``MockServer(config, port=0)`` serves it on a real
socket in a background thread. Runs move through their statuses on ``config.clock``, and the
run metadata key ``runcancel_scenario`` (or a ``tool_choice`` forcing a function) steers each run
to a chosen outcome, so every status can be reached deterministically.
"""

from runcancel.mock.app import create_app
from runcancel.mock.config import DEFAULT_API_KEY, MockConfig
from runcancel.mock.errors import ApiError
from runcancel.mock.lifecycle import EXPIRY_SECONDS
from runcancel.mock.server import MockServer, MockStartError
from runcancel.mock.validation import SCENARIO_KEY, SCENARIOS

__all__ = [
    "DEFAULT_API_KEY",
    "EXPIRY_SECONDS",
    "SCENARIOS",
    "SCENARIO_KEY",
    "ApiError",
    "MockConfig",
    "MockServer",
    "MockStartError",
    "create_app",
]
