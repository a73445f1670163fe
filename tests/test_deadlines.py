"""Behind a network that accepts connections and never answers, the real `pmax` keeps
its deadline (timeout_s x (retries + 1), plus start-up) and says what it waits for."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pmax_cli import rows, run_pmax

TIMEOUT_S, RETRIES = 0.5, 1
BUDGET_S = TIMEOUT_S * (RETRIES + 1)
START_UP_S = 15  # interpreter, pandas, exchange calendar on a loaded 2-core machine


@pytest.fixture
def black_hole() -> Iterator[dict[str, str]]:
    """A local proxy that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    yield {
        "HTTPS_PROXY": url,
        "HTTP_PROXY": url,
        "https_proxy": url,
        "http_proxy": url,
        "NO_PROXY": "",
        "no_proxy": "",
        "FINNHUB_API_KEY": "",
        "PMAX_DATA__TIMEOUT_S": str(TIMEOUT_S),
        "PMAX_DATA__RETRIES": str(RETRIES),
    }
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_data_fetch_keeps_its_deadline(tmp_path: Path, black_hole: dict[str, str]) -> None:
    db = tmp_path / "f.duckdb"
    began = time.monotonic()
    result = run_pmax(
        tmp_path, "data", "fetch", "AAPL", "--source", "yfinance", "--db", str(db), timeout=120, env=black_hole
    )
    elapsed = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert elapsed < BUDGET_S + START_UP_S, elapsed
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"pmax: yfinance: no answer after {TIMEOUT_S:g} s (bars for 1 ticker(s)")
    assert lines[0].endswith("retrying 1/1") and lines[1].endswith("giving up")
    assert f"yfinance: no answer within {BUDGET_S:g} s (2 tries of {TIMEOUT_S:g} s)" in result.stderr
    assert rows(db, "SELECT count(*) FROM bars") == [(0,)]


def test_one_live_cycle_keeps_its_deadline(tmp_path: Path, black_hole: dict[str, str]) -> None:
    db = tmp_path / "l.duckdb"
    began = time.monotonic()
    result = run_pmax(tmp_path, "--run", "--live", "--cycles", "1", "--db", str(db), timeout=180, env=black_hole)
    elapsed = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert elapsed < BUDGET_S + START_UP_S, elapsed
    assert f"pmax: yfinance: no answer after {TIMEOUT_S:g} s (bars for 20 ticker(s)" in result.stderr
    assert "pmax: live data unavailable:" in result.stderr and "Traceback" not in result.stderr
    assert rows(db, "SELECT count(*) FROM cycles") == [(0,)]
    assert rows(db, "SELECT status FROM runs") in ([], [("failed",)])


def test_sigterm_while_waiting_for_the_network_stops_at_once(tmp_path: Path, black_hole: dict[str, str]) -> None:
    from pmax_cli import spawn_pmax

    db = tmp_path / "s.duckdb"
    env = {**black_hole, "PMAX_DATA__TIMEOUT_S": "20", "PMAX_DATA__RETRIES": "2"}  # a 60 s budget
    proc = spawn_pmax(tmp_path, "--run", "--live", "--cycles", "1", "--db", str(db), **env)
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:  # the store opens just before the loop
        time.sleep(0.2)
    time.sleep(1.5)  # inside the first fetch (or just before it: both end with 143)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert time.monotonic() - sent < 8  # not the rest of the 60 s budget
    assert "pmax: interrupted by SIGTERM after 0 session(s) this run" in err or "pmax: stopped by SIGTERM" in err
    assert rows(db, "SELECT count(*) FROM cycles") == [(0,)]
