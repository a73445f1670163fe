"""`pmax sweep` end to end: local pool and a real local Ray cluster agree, the ledger
deflates by every configuration tried (runs included), failures and Ctrl-C keep
finished trials. Short replays with two cheap models and two grid points keep CPU low
(the grid's product order is tested in test_sweep_grid.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import connect

PMAX = [sys.executable, "-m", "tui.cli"]
UNTIL = "2016-02-02"  # 21 sessions: 20 daily returns, the fewest the run summary gives a Sharpe from
FIXED = '[fixed]\n"forecast.models" = ["naive", "drift"]\n"risk.mc_paths" = 0\n"risk.stress" = false\n'
GRID2 = '[grid]\n"portfolio.cash_buffer" = [0.02, 0.2]\n"broker.commission_bps" = [30.0]\n' + FIXED
TRIAL_KEYS = (
    "sharpe",
    "total_return",
    "psr",
    "turnover",
    "costs",
    "max_drawdown",
    "sessions",
    "first_session",
    "last_session",
    "trade_count",
)


def _pmax(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PMAX, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=600)


def _last_json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_local_and_ray_sweeps_agree_and_share_one_ledger(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID2)
    run_cfg = tmp_path / "run.toml"  # a configuration outside the grid: one more trial in the ledger
    run_cfg.write_text(
        '[forecast]\nmodels = ["naive", "drift"]\n[risk]\nmc_paths = 0\nstress = false\n[broker]\nslippage_bps = 20.0\n'
    )
    db = tmp_path / "ledger.duckdb"
    run = _last_json(_pmax("--run", "--until", UNTIL, "--config", str(run_cfg), "--db", str(db), "--json"))
    assert run["trial_id"] == f"run-{run['run_id']}"

    local = _last_json(
        _pmax("sweep", str(grid), "--engine", "local", "--workers", "2", "--until", UNTIL, "--db", str(db), "--json")
    )
    ray = _last_json(
        _pmax("sweep", str(grid), "--engine", "ray", "--workers", "2", "--until", UNTIL, "--db", str(db), "--json")
    )

    assert len(local["trials"]) == len(ray["trials"]) == 2
    for a, b in zip(local["trials"], ray["trials"], strict=True):
        assert a["status"] == b["status"] == "finished"
        assert a["params"] == b["params"]
        assert {k: a[k] for k in TRIAL_KEYS} == {k: b[k] for k in TRIAL_KEYS}
    assert local["trials"][0]["params"] == {"portfolio.cash_buffer": 0.02, "broker.commission_bps": 30.0}
    assert local["trials"][0]["last_session"] == UNTIL and local["trials"][0]["sessions"] == 21
    sharpes = {t["sharpe"] for t in local["trials"]}
    assert len(sharpes) == 2  # the grid really changes the results
    best = max(local["trials"], key=lambda t: t["sharpe"])
    for report in (local, ray):
        assert report["best"]["params"] == best["params"]
        # 2 grid configurations + the run; the Ray rerun of the same grid adds no new configuration.
        assert report["best"]["n_trials"] == 3
        assert 0.0 <= report["best"]["deflated_sharpe"] <= report["best"]["psr"] <= 1.0
        assert 0.0 <= report["pbo"] <= 1.0 and report["pbo_detail"]["trials"] == 3
        assert isinstance(report["distinguishable_from_luck"], bool) and report["verdict"]
    assert local["best"]["deflated_sharpe"] == ray["best"]["deflated_sharpe"]
    assert local["pbo"] == ray["pbo"]

    con = connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT engine, count(*), count(DISTINCT config_hash) FROM trials GROUP BY engine ORDER BY engine"
    ).fetchall()
    sweeps = con.execute("SELECT engine, status, n_trials FROM sweeps ORDER BY started_at").fetchall()
    returns = con.execute("SELECT count(*) FROM trial_returns").fetchall()[0][0]
    con.close()
    assert rows == [("local", 2, 2), ("ray", 2, 2), ("replay", 1, 1)]
    assert sweeps == [("local", "finished", 2), ("ray", "finished", 2)]
    assert returns == 5 * 21


def test_a_failed_trial_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    from engine.store import Store
    from engine.sweep.driver import build_report, plan_trials, run_sweep, sweep_settings
    from engine.sweep.grid import load_grid
    from engine.sweep.runners import LocalRunner
    from tui.commands.common import load_cli_config

    data = tmp_path / "copy.parquet"
    data.write_bytes((Path(__file__).parent.parent / "data" / "watchlist_sample.parquet").read_bytes())
    grid_path = tmp_path / "grid.toml"
    grid_path.write_text(f'[grid]\n"replay.data" = ["{data}", ""]\n' + FIXED)
    base = load_cli_config(None)
    grid = load_grid(grid_path, base)
    settings = sweep_settings(base, "local", 1, None, dt.date.fromisoformat(UNTIL))
    specs = plan_trials(grid, "sweep-t", settings.until)
    data.unlink()  # the first trial's data disappears after the plan: its worker fails
    store = Store.open(tmp_path / "ledger.duckdb")
    outcome = run_sweep(store, grid, specs, settings, LocalRunner(1), "sweep-t")
    report = build_report(store, specs, outcome, settings)
    rows = store.con.execute("SELECT trial_id, status, error FROM trials ORDER BY trial_id").fetchall()
    store.close()
    assert [t["status"] for t in report["trials"]] == ["failed", "finished"]
    assert "copy.parquet" in report["trials"][0]["error"]
    assert rows[0][:2] == ("sweep-t-000", "failed") and "copy.parquet" in rows[0][2]
    assert rows[1][:2] == ("sweep-t-001", "finished")
    assert report["failed"] == 1 and report["best"]["trial_id"] == "sweep-t-001"


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C handled as usual even when this runner ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_ctrl_c_cancels_the_rest_and_keeps_finished_trials(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"broker.commission_bps" = [1.0, 2.0, 3.0, 4.0]\n' + FIXED)
    db = tmp_path / "ledger.duckdb"
    proc = subprocess.Popen(
        [*PMAX, "sweep", str(grid), "--workers", "1", "--until", "2016-01-06", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        preexec_fn=_default_sigint,  # a runner started in the background ignores SIGINT; its child must not
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    for line in proc.stderr:  # non-tty: one line per finished trial
        if line.startswith("trial 1/4") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; finished trials are kept" in err
    con = connect(str(db), read_only=True)
    statuses = con.execute("SELECT status FROM trials").fetchall()
    sweep = con.execute("SELECT status FROM sweeps").fetchall()
    con.close()
    assert sweep == [("interrupted",)]
    assert 1 <= len(statuses) < 4 and all(s == ("finished",) for s in statuses)
