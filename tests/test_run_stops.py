"""Every stop is recorded, and a database refuses a setup it cannot continue (real `pmax`).

The two refusals of a replayed database end before any session: they call `pmax`'s
entry point in this process (`call_pmax`); every run and every signal is a subprocess."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from pmax_cli import FAST, REPO, call_pmax, rows, run_pmax, spawn_pmax

SAMPLE = REPO / "data" / "watchlist_sample.parquet"


def _stop_after_first_session(home: Path, db: Path, sig: int) -> tuple[int, str]:
    proc = spawn_pmax(home, "--run", "--cycles", "30", "--db", str(db), **FAST)
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("session "):
            proc.send_signal(sig)
            break
    _, rest = proc.communicate(timeout=120)
    return proc.returncode, "".join(seen) + rest


def test_every_stop_is_marked_and_the_next_run_resumes_after_the_last_commit(tmp_path: Path) -> None:
    """SIGTERM, then Ctrl-C, then SIGKILL, on one database: each signal ends on a committed
    session and marks its run interrupted; the killed run is marked crashed by the next
    start; every run continues after the last committed session."""
    db = tmp_path / "s.duckdb"
    before = 0
    for sig, code, name in ((signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")):
        rc, err = _stop_after_first_session(tmp_path, db, sig)
        assert rc == code, err
        assert f"pmax: interrupted by {name}" in err and "run the same command again to resume" in err
        assert "Traceback" not in err
        ((status, sessions),) = rows(db, "SELECT status, sessions FROM runs ORDER BY started_at DESC LIMIT 1")
        (committed,) = rows(db, "SELECT count(*) FROM cycles")[0]
        assert status == "interrupted" and sessions == committed - before >= 1  # resumed, nothing re-run
        before = committed
    proc = spawn_pmax(tmp_path, "--run", "--cycles", "30", "--db", str(db), **FAST)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("session "):
            proc.kill()
            break
    proc.wait(timeout=60)
    assert rows(db, "SELECT status FROM runs ORDER BY started_at DESC LIMIT 1") == [("running",)]
    (committed,) = rows(db, "SELECT count(*) FROM cycles")[0]
    assert committed > before
    nxt = run_pmax(tmp_path, "--run", "--cycles", "1", "--db", str(db), env=FAST)
    assert nxt.returncode == 0, nxt.stderr
    assert "marked crashed" in nxt.stderr
    statuses = [r[0] for r in rows(db, "SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["interrupted", "interrupted", "crashed", "finished"]
    assert rows(db, "SELECT count(*) FROM cycles")[0][0] == committed + 1


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A replay database two sessions in (the book holds most of the 20 names)."""
    home = tmp_path_factory.mktemp("replayed")
    db = home / "r.duckdb"
    result = run_pmax(home, "--run", "--cycles", "2", "--db", str(db), env=FAST)
    assert result.returncode == 0, result.stderr
    return home, db


def _snapshot(db: Path) -> tuple:
    return tuple(rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("cycles", "runs", "orders", "positions", "bars"))


def test_live_run_on_a_replay_database_is_refused(replayed: tuple[Path, Path]) -> None:
    home, db = replayed
    before = _snapshot(db)
    result = call_pmax(home, "--run", "--live", "--cycles", "1", "--db", str(db), env=FAST)
    assert result.returncode == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"pmax: database {db} holds a replay account 'paper'") and "live run cannot" in first
    assert "another --db" in result.stderr
    assert _snapshot(db) == before


def test_held_names_leaving_the_universe_stop_the_run(replayed: tuple[Path, Path]) -> None:
    home, db = replayed
    before = _snapshot(db)
    result = call_pmax(home, "--run", "--cycles", "1", "--db", str(db), PMAX_DATA__WATCHLIST="AAPL,MSFT,KO", env=FAST)
    assert result.returncode == 2
    assert "held name(s) left the universe since the last session" in result.stderr.splitlines()[0]
    assert "previous watchlist" in result.stderr
    assert _snapshot(db) == before


def test_names_joining_are_reported_and_recorded(tmp_path: Path) -> None:
    db = tmp_path / "j.duckdb"
    first = run_pmax(tmp_path, "--run", "--cycles", "1", "--db", str(db), PMAX_DATA__WATCHLIST="AAPL,MSFT", env=FAST)
    assert first.returncode == 0, first.stderr
    quiet = run_pmax(
        tmp_path,
        "--run",
        "--cycles",
        "1",
        "--db",
        str(db),
        PMAX_APP__LOG_LEVEL="error",
        PMAX_DATA__WATCHLIST="AAPL,MSFT,KO",
        env=FAST,
    )
    assert quiet.returncode == 0 and "universe changed" not in quiet.stderr  # log_level applied
    loud = run_pmax(tmp_path, "--run", "--cycles", "1", "--db", str(db), env=FAST)
    assert loud.returncode == 0, loud.stderr
    assert "pmax: universe changed since" in loud.stderr and "17 joined, 0 left" in loud.stderr
    universes = [r[0].count(",") + 1 for r in rows(db, "SELECT universe FROM runs ORDER BY started_at")]
    assert universes == [2, 3, 20]
    hashes = rows(db, "SELECT DISTINCT config_hash FROM runs")
    assert len(hashes) == 3 and all(len(h[0]) == 16 for h in hashes)


def _stop_twice(tmp_path: Path, attempt: int) -> tuple[Path, subprocess.Popen[str], str] | None:
    """SIGTERM inside a cycle, then again; None when the first signal landed in a feed wait."""
    db = tmp_path / f"d{attempt}.duckdb"
    proc = spawn_pmax(tmp_path, "--run", "--cycles", "30", "--db", str(db), **FAST)
    assert proc.stderr is not None
    seen: list[str] = []
    hit = signalled = False
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("session ") and not signalled:
            time.sleep(0.05)  # past the (millisecond) replay feed read, inside the next cycle
            proc.send_signal(signal.SIGTERM)
            signalled = True
        if "finishing the session in flight" in line:
            proc.send_signal(signal.SIGTERM)
            hit = True
            break
        if "— stopping" in line:  # it landed between cycles: a clean stop, not this test's case
            break
    _, rest = proc.communicate(timeout=60)
    return (db, proc, "".join(seen) + rest) if hit else None


def test_second_signal_stops_at_once_and_rolls_the_session_back(tmp_path: Path) -> None:
    for attempt in range(5):  # the first signal must land inside a cycle; retry if it did not
        if (found := _stop_twice(tmp_path, attempt)) is not None:
            break
    else:
        pytest.fail("five runs in a row took the first SIGTERM between cycles")
    db, proc, err = found
    assert proc.returncode == 143, err
    assert "pmax: stopped by SIGTERM; the session in flight was rolled back" in err
    committed = rows(db, "SELECT count(*) FROM cycles")[0][0]
    ((status, sessions),) = rows(db, "SELECT status, sessions FROM runs")
    assert status == "interrupted" and sessions == committed >= 1
    # Every table agrees with the committed cycles: nothing of the rolled-back session remains.
    last = rows(db, "SELECT max(session) FROM cycles")[0][0]
    assert rows(db, "SELECT max(as_of) FROM equity") == [(last,)]


def test_sigterm_outside_the_run_loop_is_reported(tmp_path: Path) -> None:
    """A SIGTERM during start-up or an import ends with a line and 143, not silently."""
    # A file large enough that the import takes seconds (the bundled sample takes < 1 s).
    big = tmp_path / "big.parquet"
    sample = pd.read_parquet(SAMPLE)
    pd.concat([sample.assign(ticker=sample["ticker"] + f"{i:02d}") for i in range(50)]).to_parquet(big)
    proc = spawn_pmax(tmp_path, "data", "import", str(big), "--db", str(tmp_path / "t.duckdb"))
    time.sleep(1.5)  # inside the import (reading, gating or writing)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "pmax: stopped by SIGTERM" in err and "Traceback" not in err
