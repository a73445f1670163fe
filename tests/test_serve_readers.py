"""One writer, many readers: a real `pmax --run` owns the file, real commands read it.

No mocks: the owner is a `pmax --run` subprocess replaying the bundled data into a
temporary database; the readers are `pmax data check / validate / ask` (their entry
point called in this process: `Owner.read`), and the library's own reader and event stream.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.flight as fl
import pytest
from pmax_cli import FAST, call_pmax

from engine.config import Config, load_config
from engine.serve.client import follow_events
from engine.serve.reader import open_reader
from engine.serve.rendezvous import find_owner, owner_paths

PMAX = [sys.executable, "-m", "tui.cli"]
FEW = "AAPL,MSFT,XOM"


class Owner:
    """A `pmax --run` subprocess and the sessions it has committed so far."""

    def __init__(self, db: Path, runtime: str, until: str = "2018-12-31") -> None:
        self.db, self.runtime = db, runtime
        home = db.parent / "home"  # no user config: the module-wide owner starts before conftest's isolation
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_")}
        self.env = {
            **env,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / "share"),
            "PMAX_DATA__WATCHLIST": FEW,
            "PMAX_SERVE__RUNTIME_DIR": runtime,
            "PMAX_SERVE__LOCK_WAIT_S": "2",
            **FAST,
        }  # two cheap models: the tests need a run that commits, not its forecasts
        self.proc = subprocess.Popen(
            [*PMAX, "--run", "--db", str(db), "--until", until],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        self.sessions: list[str] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            if line.startswith("session "):
                self.sessions.append(line.split()[1])

    def wait_sessions(self, n: int, timeout: float = 240.0) -> str:
        deadline = time.monotonic() + timeout
        while len(self.sessions) < n:
            assert self.proc.poll() is None, "".join(self.stderr)
            assert time.monotonic() < deadline, f"only {len(self.sessions)} sessions: {''.join(self.stderr)}"
            time.sleep(0.2)
        return self.sessions[-1]

    def read(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command that only reads, through pmax's entry point in this process (`call_pmax`)."""
        settings = {k: v for k, v in self.env.items() if k.startswith("PMAX_")}
        return call_pmax(self.db.parent / "home", *args, env=settings)

    def pmax(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PMAX, *args], capture_output=True, text=True, env=self.env, timeout=300)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory, module_runtime: str) -> Iterator[Owner]:
    """One owner for the tests that only read (it replays to the end of the data)."""
    run = Owner(tmp_path_factory.mktemp("owner") / "served.duckdb", module_runtime)
    try:
        run.wait_sessions(3)
        yield run
    finally:
        run.stop()


def _config(runtime: str) -> Config:
    return load_config(overrides={"serve.runtime_dir": runtime, "serve.lock_wait_s": 2.0})


def test_commands_attach_to_a_running_owner_and_see_current_data(owner: Owner) -> None:
    pid = owner.proc.pid
    seen = owner.sessions[-1]
    check = owner.read("data", "check", "--db", str(owner.db), "--json")
    assert check.returncode == 0, check.stderr
    assert f"attached to pmax --run (pid {pid})" in check.stderr
    report = json.loads(check.stdout)
    assert report["tickers"] == 3 and report["last"] >= seen

    validate = owner.read("validate", "--db", str(owner.db), "--json")
    assert validate.returncode == 0, validate.stderr
    assert f"attached to pmax --run (pid {pid})" in validate.stderr
    assert json.loads(validate.stdout)["rows"]

    ask = owner.read("ask", "--db", str(owner.db), "--json", "--backend", "offline", "what is our risk?")
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout.strip().splitlines()[-1])
    assert answer["attached_to"] == f"pmax --run (pid {pid})" and answer["history_saved"] is False
    risk_as_of = answer["sources"][0]["as_of"]
    assert risk_as_of >= seen  # the answer reads the run's latest committed session
    assert owner.proc.poll() is None  # the run kept going


def test_writers_are_refused_naming_the_owner(owner: Owner, sample_path: Path) -> None:
    pid = owner.proc.pid
    for args in (
        ["data", "import", str(sample_path), "--db", str(owner.db)],
        ["--run", "--cycles", "1", "--db", str(owner.db)],
    ):
        result = owner.read(*args)  # refused before anything is written
        assert result.returncode == 2, result.stderr
        assert f"is in use by pmax --run (pid {pid})" in result.stderr
        assert "attach to it by themselves" in result.stderr and "Traceback" not in result.stderr


def test_endpoint_is_private_and_read_only(owner: Owner) -> None:
    info = find_owner(owner.db, owner.runtime)
    assert info is not None and info.pid == owner.proc.pid and info.kind == "run"
    path, sock = owner_paths(owner.db, owner.runtime)
    assert stat.S_IMODE(os.stat(owner.runtime).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(sock).st_mode) == 0o600

    reader = open_reader(owner.db, _config(owner.runtime))
    try:
        assert reader.attached == info
        n = reader.con.execute("SELECT count(*) FROM cycles").fetchall()[0][0]
        assert n >= 3
        frame = reader.query_df(
            "SELECT session FROM cycles WHERE session >= ? ORDER BY session", [__import__("datetime").date(2016, 1, 4)]
        )
        assert len(frame) >= 3 and str(frame["session"].dtype).startswith("datetime64")
        for sql in (
            "DELETE FROM cycles",
            "SELECT 1; DROP TABLE cycles",
            "PRAGMA version",
            "INSERT INTO copilot_messages SELECT * FROM copilot_messages",
        ):
            with pytest.raises(duckdb.PermissionException):
                reader.con.execute(sql)
        with pytest.raises(duckdb.Error, match="nope"):
            reader.con.execute("SELECT * FROM nope")
    finally:
        reader.close()

    # Straight to the socket, past the client-side guard: the owner refuses writes too.
    client = fl.FlightClient(info.socket)
    for body in ({"token": info.token, "sql": "DELETE FROM cycles"}, {"token": "wrong", "sql": "SELECT 1"}):
        with pytest.raises(fl.FlightError, match="refused"):
            client.do_get(fl.Ticket(json.dumps(body).encode())).read_all()
    client.close()
    after = open_reader(owner.db, _config(owner.runtime))
    assert after.con.execute("SELECT count(*) FROM cycles").fetchall()[0][0] >= n
    after.close()


def test_events_stream_new_sessions_as_they_commit(owner: Owner) -> None:
    info = find_owner(owner.db, owner.runtime)
    assert info is not None
    sessions = []
    for event in follow_events(info):
        if type(event).__name__ == "CycleCompleted":
            sessions.append(event.session)
        if len(sessions) == 3:
            break
    assert sessions == sorted(sessions) and len(set(sessions)) == 3
    deadline = time.monotonic() + 60  # the run logs a session just after it publishes its events
    while str(sessions[-1]) not in owner.sessions and time.monotonic() < deadline:
        time.sleep(0.1)
    assert {str(s) for s in sessions} <= set(owner.sessions)
