"""A real store for the copilot's question tests: a short headless replay of the
bundled sample (2016-01-04 to 2016-03-01, so February 2016 exists) with three cheap
models, run once per test session in a subprocess (`pmax --run`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

UNTIL = "2016-03-01"
FAST = """[forecast]
models = ["naive", "drift", "arima"]
horizons = [1, 5]
threads = 1
min_scored = 5
[validation]
models = ["naive", "drift", "arima"]
[risk]
mc_paths = 0
"""
_MADE: dict[str, Path] = {}


def replay_db(factory: pytest.TempPathFactory) -> Path:
    """The replayed database (made on first use in this process)."""
    if "db" not in _MADE:
        root = factory.mktemp("copilot-replay")
        (root / "fast.toml").write_text(FAST)
        db = root / "replay.duckdb"
        out = subprocess.run([sys.executable, "-m", "tui.cli", "--run", "--until", UNTIL, "--db",
                              str(db), "--config", str(root / "fast.toml")],
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        _MADE["db"] = db
    return _MADE["db"]
