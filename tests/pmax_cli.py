"""Run the real `pmax` command in a subprocess, isolated from the user's files (test helper)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from engine.store import connect

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


def call_pmax(
    home: Path, *args: str, env: Mapping[str, str] | None = None, **more: str
) -> subprocess.CompletedProcess[str]:
    """`pmax *args` through `tui.cli.main` (the console script's entry point) in this process.

    Same environment as `run_pmax`, same exit code and output, without a new
    interpreter's ~0.5 s of start-up: for refusals that end before any session (bad
    settings, bad files, bad paths). Anything that runs sessions, takes signals or needs
    a fresh interpreter goes through `run_pmax`. What `main` changes in the process
    (environment, root logging handlers, the SIGTERM handler) is put back.
    """
    from tui.cli import main

    saved_env = dict(os.environ)
    root = logging.getLogger()
    saved_handlers, saved_levels = (
        root.handlers[:],
        {name: logging.getLogger(name).level for name in ("", "pmax", "engine", "copilot", "tui")},
    )
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    os.environ.clear()
    os.environ.update(pmax_env(home, **{**(env or {}), **more}))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = saved_handlers
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        signal.signal(signal.SIGTERM, saved_sigterm)
    return subprocess.CompletedProcess(["pmax", *args], code, out.getvalue(), err.getvalue())


def _default_sigint() -> None:
    """In the child: Ctrl-C acts even when the test runner was started with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_pmax(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        pmax_argv(*args),
        cwd=REPO,
        env=pmax_env(home, **env),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )


def rows(db: Path, sql: str) -> list[tuple]:
    con = connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
