"""Run the real `pmax` command in a subprocess, isolated from the user's files (test helper)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent


#: Settings that keep a subprocess replay short: two cheap models, no Monte-Carlo or stress.
FAST = {"PMAX_FORECAST__MODELS": "naive,drift", "PMAX_RISK__MC_PATHS": "0", "PMAX_RISK__STRESS": "false"}
#: The same settings as `load_config` overrides, for an engine built in the test process.
FAST_CONFIG = {"forecast.models": ["naive", "drift"], "risk.mc_paths": 0, "risk.stress": False}


def pmax_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "cfg"),
            "XDG_DATA_HOME": str(home / "data"),
            "HF_HUB_OFFLINE": "1",
            **extra,
        }
    )
    return env


def pmax_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", "from tui.cli import main; main()", *args]


def run_pmax(
    home: Path, *args: str, timeout: float = 300, env: Mapping[str, str] | None = None, **more: str
) -> subprocess.CompletedProcess[str]:
    """`pmax *args` with the settings in `env` (e.g. FAST) and `more` (PMAX_… variables)."""
    return subprocess.run(
        pmax_argv(*args),
        cwd=REPO,
        env=pmax_env(home, **{**(env or {}), **more}),
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def spawn_pmax(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        pmax_argv(*args), cwd=REPO, env=pmax_env(home, **env), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
