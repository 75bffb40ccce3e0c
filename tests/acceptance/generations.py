"""A scenario script run with each svix SDK generation (1.x and 2.x), each in its own interpreter.

Both generations import as `svix`, so a scenario (`sdk_scenario.py`, `portal_scenario.py`) runs as
a script, given its arguments on the command line, and prints one JSON object: what its user saw.
The 1.x interpreter is .tools/svix1 (made by `make svix1`, or by the `svix1_python` fixture when
missing); 2.x is the suite's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCENARIO_TIMEOUT_SECONDS = 60


def run_each_generation(
    scenario: Path, svix1_python: str, arguments: Callable[[int], list[str]]
) -> dict[int, dict[str, Any]]:
    """Each generation's run of `scenario` with `arguments(generation)`, both started together."""
    started = {
        generation: subprocess.Popen(
            [python, str(scenario), *arguments(generation)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for generation, python in ((1, svix1_python), (2, sys.executable))
    }
    results = {}
    for generation, process in started.items():
        out, err = process.communicate(timeout=SCENARIO_TIMEOUT_SECONDS)
        assert process.returncode == 0, f"svix {generation}.x: {err}"
        results[generation] = json.loads(out)
    return results
