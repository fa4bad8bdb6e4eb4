"""What runcancel costs a pytest run that does not use the suites.

Three figures, medians of fresh interpreters, measured side by side in one run:

1. importing `runcancel.plugin` and its settings table (what every pytest run in the environment
   pays), after pytest itself is imported, apart from schemathesis's own plugin;
2. importing schemathesis's pytest plugin the same way (loaded by its own entry point, not ours);
3. an unrelated two-test pytest run with the runcancel plugin and without it (`-p no:runcancel`),
   alternated, so that the difference and the ratio come from the same minutes of the machine.

    python bench/bench_plugin.py             # 15 rounds
    python bench/bench_plugin.py --rounds 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT = (
    "import time, pytest\n"
    "start = time.perf_counter()\n"
    "import {module}\n"
    "{extra}"
    "print(time.perf_counter() - start)\n"
)
UNRELATED = "def test_one():\n    assert 1\n\n\ndef test_two():\n    assert 2\n"


def import_seconds(module: str, extra: str = "") -> float:
    code = IMPORT.format(module=module, extra=extra)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def run_seconds(folder: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RUNCANCEL_"))}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    package, ours, theirs, with_plugin, without = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_unrelated.py").write_text(UNRELATED)
        for _ in range(rounds):
            package.append(import_seconds("runcancel"))
            ours.append(import_seconds("runcancel.plugin", "import runcancel.settings\n"))
            theirs.append(import_seconds("schemathesis.pytest.plugin"))
            with_plugin.append(run_seconds(Path(folder)))
            without.append(run_seconds(Path(folder), "-p", "no:runcancel"))
    med = statistics.median
    print(f"rounds: {rounds}")
    print(f"import runcancel.plugin + settings (after pytest): {med(ours) * 1000:.1f} ms")
    print(f"  of which the package runcancel (its __version__ lookup): {med(package) * 1000:.1f} ms")
    print(f"import schemathesis's pytest plugin (after pytest): {med(theirs) * 1000:.1f} ms")
    print(f"unrelated 2-test run, with runcancel:    {med(with_plugin) * 1000:.0f} ms")
    print(f"unrelated 2-test run, -p no:runcancel:   {med(without) * 1000:.0f} ms")
    print(
        f"runcancel's share of the run: {(med(with_plugin) - med(without)) * 1000:+.0f} ms "
        f"(ratio {med(with_plugin) / med(without):.3f})"
    )


if __name__ == "__main__":
    main()
