"""The contract suites. A package, so that their module names (`contracts.test_probe`) never clash
with the library's tests of the same basename (`tests/test_probe.py`)."""
