"""Where the app keeps runs and data: ./runs and ./data, or BLITZLAB_RUNS_DIR / BLITZLAB_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path


def runs_dir() -> Path:
    return Path(os.environ.get("BLITZLAB_RUNS_DIR", "runs"))


def data_dir() -> Path:
    return Path(os.environ.get("BLITZLAB_DATA_DIR", "data"))
