"""Project-wide pytest set-up. The runcancel plugin itself is loaded through its pytest11 entry point."""

from hypothesis import HealthCheck, settings

# Property tests are reproducible in CI (no random seed, no example database to carry over).
settings.register_profile("ci", derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100)
settings.load_profile("ci" if __import__("os").environ.get("CI") else "dev")
