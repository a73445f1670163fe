"""A real store for the copilot's question tests: a short headless replay of the
bundled sample (2016-01-04 to 2016-03-01, so February 2016 exists) with three cheap
models, run once per test session in a subprocess (`pmax --run`); the tests open it read-only."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

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


def replay_db(root: Path) -> Path:
    """The replayed database in `root`, made by the first caller; callers in other
    processes (pytest-xdist workers sharing `root`) wait for it and reuse it."""
    root.mkdir(parents=True, exist_ok=True)
    db, done = root / "replay.duckdb", root / "replay.done"
    with open(root / "replay.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            (root / "fast.toml").write_text(FAST)
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tui.cli",
                    "--run",
                    "--until",
                    UNTIL,
                    "--db",
                    str(db),
                    "--config",
                    str(root / "fast.toml"),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert out.returncode == 0, out.stderr[-2000:]
            done.touch()
    return db
