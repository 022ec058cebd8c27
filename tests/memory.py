"""Peak memory of one step, measured in a fresh interpreter (Linux)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = """
def _status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
{setup}
open("/proc/self/clear_refs", "w").write("5")  # restart the peak (VmHWM) from the current resident size
_before = _status("VmRSS")
{run}
print((_status("VmHWM") - _before) // 1024)
"""


def peak_mib(setup: str, run: str) -> int:
    """MiB by which `run` raises the resident memory of an interpreter that has run `setup` (Python
    statements, run from the project's root): the peak, so memory freed before `run` returns still counts."""
    code = MEASURE.format(setup=setup, run=run)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().isdigit(), out.stderr
    return int(out.stdout)
