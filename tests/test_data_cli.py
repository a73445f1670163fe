"""`pmax data import|check|fetch` and `pmax --run --live` offline, as a user runs them.

Refusals and reports that write nothing call `pmax`'s entry point in this process
(`call_pmax`); imports and runs are real `pmax` subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from pmax_cli import call_pmax

ROOT = Path(__file__).resolve().parent.parent


def pmax(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_") and k != "FINNHUB_API_KEY"}
    env["XDG_CONFIG_HOME"] = str(cwd)  # no user config
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_import_then_check_reports_defects(tmp_path: Path) -> None:
    sample = pd.read_parquet(ROOT / "data" / "watchlist_sample.parquet")
    sample = sample[sample["ticker"].isin(["KO", "PG"])].reset_index(drop=True)
    ko = sample.index[sample["ticker"] == "KO"]
    sample.loc[ko[100], "open"] = float("nan")  # NaN open
    sample.loc[ko[200], "close"] = sample.loc[ko[200], "low"] * 0.5  # LNT-style bad close
    sample = sample.drop(index=ko[300:303])  # a 3-session gap
    path = tmp_path / "defects.csv"
    sample.to_csv(path, index=False)
    db = tmp_path / "x.duckdb"
    imp = pmax("data", "import", str(path), "--db", str(db), "--json", cwd=tmp_path)
    assert imp.returncode == 0, imp.stderr
    summary = json.loads(imp.stdout)
    assert summary["rows"] == len(sample) and summary["issues"]["gap"] == {"flag": 3}
    chk = call_pmax(tmp_path, "data", "check", "--json", "--db", str(db))
    assert chk.returncode == 0, chk.stderr
    rep = json.loads(chk.stdout)
    assert rep["by_rule"]["missing"] == {"repair": 1} and rep["by_rule"]["gap"] == {"flag": 3}
    assert rep["by_rule"]["ohlc"] == {"quarantine": 1}
    assert rep["quarantined"] == 1 and rep["worst_tickers"][0]["ticker"] == "KO"
    text = call_pmax(tmp_path, "data", "check", "--db", str(db))
    assert "worst tickers: KO" in text.stdout


def test_bad_import_file_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,ticker,close\n2017-01-03,AAPL,1\n")
    res = call_pmax(tmp_path, "data", "import", str(bad), "--db", str(tmp_path / "b.duckdb"))
    assert res.returncode == 2 and "lacks column" in res.stderr and "Traceback" not in res.stderr


def test_fetch_offline_one_line_exit_1(tmp_path: Path) -> None:
    res = call_pmax(tmp_path, "data", "fetch", "AAPL", "--db", str(tmp_path / "f.duckdb"), FINNHUB_API_KEY="")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("pmax: fetch failed: yfinance: network unreachable") and "finnhub: no API key" in first


def test_live_offline_empty_cache_then_cached(tmp_path: Path) -> None:
    cfg = tmp_path / "live.toml"
    cfg.write_text(
        '[data]\nwatchlist = ["AAPL", "MSFT"]\n[live]\nwarmup_sessions = 40\n'
        '[forecast]\nmodels = ["naive", "drift"]\n[risk]\nmc_paths = 0\nstress = false\n'
    )  # cheap models
    db = tmp_path / "l.duckdb"
    res = pmax("--run", "--live", "--cycles", "1", "--db", str(db), "--config", str(cfg), cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("pmax: live data unavailable: yfinance: network unreachable")
    imp = pmax(
        "data",
        "import",
        str(ROOT / "data" / "watchlist_sample.parquet"),
        "--tickers",
        "AAPL,MSFT",
        "--db",
        str(db),
        cwd=tmp_path,
    )
    assert imp.returncode == 0, imp.stderr
    res = pmax("--run", "--live", "--cycles", "1", "--json", "--db", str(db), "--config", str(cfg), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[-1])["last_session"] == "2018-02-07"
    assert "working from cached bars up to 2018-02-07 (stale)" in res.stderr
    rep = json.loads(call_pmax(tmp_path, "data", "check", "--json", "--db", str(db)).stdout)
    assert rep["stale"] == 80
