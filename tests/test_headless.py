"""`pmax --run` end to end in a subprocess: JSON summary, resume, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pmax_cli import FAST, call_pmax

from engine.store import connect

PMAX = [sys.executable, "-m", "tui.cli"]


def pmax(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*PMAX, *args], capture_output=True, text=True, env=full_env, timeout=600)


def test_run_until_then_cycles_resumes(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    few = {"PMAX_DATA__WATCHLIST": "AAPL,MSFT,XOM", **FAST}  # the CLI path, on a small universe and cheap models
    first = pmax("--run", "--until", "2016-01-08", "--db", str(db), "--json", env=few)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["last_session"] == "2016-01-08" and summary["first_session"] == "2016-01-04"
    assert summary["sessions_run"] == 5 and summary["equity"] > 0
    assert summary["sessions"] == 5 and summary["benchmark"]["benchmark"] == "equal-weight buy-and-hold"
    second = pmax("--run", "--cycles", "5", "--db", str(db), env=few)
    assert second.returncode == 0, second.stderr
    # The human summary puts the benchmark beside the strategy and names the data's bias.
    assert " vs equal-weight buy-and-hold " in second.stdout and "Survivorship bias" in second.stdout
    assert "ratios withheld: 5 daily returns" in second.stdout
    con = connect(str(db), read_only=True)
    after = con.execute("SELECT count(DISTINCT date) FROM bars WHERE date > DATE '2016-01-08'").fetchall()[0][0]
    con.close()
    assert after == 5
    again = pmax("--run", "--until", "2016-01-08", "--db", str(db), "--json", env=few)
    assert json.loads(again.stdout.strip().splitlines()[-1])["sessions_run"] == 0
    # A resumed run's JSON describes that run (its first session after the MLK holiday on
    # 2016-01-18), and withholds Sharpe on 2 sessions.
    more = json.loads(
        pmax("--run", "--cycles", "2", "--db", str(db), "--json", env=few).stdout.strip().splitlines()[-1]
    )
    assert more["first_session"] == "2016-01-19" and more["sessions"] == 2
    assert more["sharpe"] is None and "need at least 20" in more["metrics_withheld"]


def test_bad_inputs_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,ticker\n2016-01-04,A\n")
    result = pmax("--run", "--data", str(bad), "--db", str(tmp_path / "x.duckdb"))
    assert result.returncode == 2
    assert result.stderr.startswith("pmax: data file") and "Traceback" not in result.stderr
    assert not (tmp_path / "x.duckdb").exists()
    usage = call_pmax(tmp_path, "--run", "--cycles", "0")  # a usage error: pmax's entry point, in this process
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
