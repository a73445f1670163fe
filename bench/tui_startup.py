"""Process start → first data row of `pmax`, measured in a pseudo-terminal (issue 16).

`first_row_times(db, runs)` starts the real `pmax --db DB` command `runs` times in a
120x40 pty (a subprocess, as a user would), reads what it draws, and times from just
before the process is started to the first frame that shows a watchlist data row (a
ticker followed by its last close), then sends `q` and waits for the app and its
engine process to exit. Used by `bench/bench_tui.py --startup`.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-B]|\x1b[=>78]")
TIMEOUT_S = 60.0


def _pmax_cmd() -> list[str]:
    return [sys.executable, "-m", "tui.cli"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_row_time(db: Path, ticker: str, env: dict[str, str]) -> tuple[float, float, float]:
    """(seconds to the first frame, seconds to the first data row, the app process's CPU
    seconds by then) for one start."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    row = re.compile(re.escape(ticker).encode() + rb"\s+[\d,]+\.\d\d")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*_pmax_cmd(), "--db", str(db)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    buf = b""
    first_frame = first_row = None
    try:
        while first_row is None and time.perf_counter() - t0 < TIMEOUT_S:
            ready, _, _ = select.select([master], [], [], 0.01)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            buf += chunk
            text = ANSI.sub(b"", buf)
            if first_frame is None and b"Watchlist" in text:
                first_frame = time.perf_counter() - t0
            if row.search(text):
                first_row = time.perf_counter() - t0
                cpu = cpu_seconds(proc.pid)
        os.write(master, b"q")
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:  # keep draining the pty
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    finally:
        os.close(master)
    if first_row is None:
        raise RuntimeError(f"no data row for {ticker} within {TIMEOUT_S:.0f} s: {ANSI.sub(b'', buf)[-400:]!r}")
    return first_frame or first_row, first_row, cpu


def first_row_times(db: Path, ticker: str, runs: int, env: dict[str, str]) -> list[tuple[float, float, float]]:
    return [first_row_time(db, ticker, env) for _ in range(runs)]
