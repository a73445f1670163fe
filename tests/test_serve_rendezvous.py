"""The owner file: private folder, stale owners cleaned up, the SELECT-only guard."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.serve.rendezvous import find_owner, new_owner, owner_paths, publish_owner, runtime_dir, withdraw_owner
from engine.sqlguard import is_read_only


def test_owner_file_is_private_and_found(tmp_path: Path) -> None:
    rt = str(tmp_path / "rt")
    info = new_owner(tmp_path / "x.duckdb", "run", rt)
    publish_owner(info, rt)
    path, sock = owner_paths(tmp_path / "x.duckdb", rt)
    assert oct(os.stat(rt).st_mode & 0o777) == "0o700" and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert find_owner(tmp_path / "x.duckdb", rt) == info
    assert info.socket == f"grpc+unix://{sock}" and info.label == f"pmax --run (pid {os.getpid()})"
    withdraw_owner(replace(info, token="someone else"), rt)  # not ours: left alone
    assert path.exists()
    withdraw_owner(info, rt)
    assert not path.exists() and find_owner(tmp_path / "x.duckdb", rt) is None


def test_a_dead_owner_is_stale_and_removed(tmp_path: Path) -> None:
    rt = str(tmp_path / "rt")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = replace(new_owner(tmp_path / "y.duckdb", "run", rt), pid=int(gone.stdout))
    publish_owner(dead, rt)
    path, sock = owner_paths(tmp_path / "y.duckdb", rt)
    sock.write_text("")
    assert find_owner(tmp_path / "y.duckdb", rt) is None
    assert not path.exists() and not sock.exists()


def test_a_runtime_folder_others_can_enter_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "open"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(UsageError, match="not private"):
        runtime_dir(str(shared))


@pytest.mark.parametrize(
    ("sql", "ok"),
    [
        ("SELECT * FROM bars WHERE ticker = ?", True),
        ("  with x AS (SELECT 1) SELECT * FROM x;", True),
        ("SELECT 1; DELETE FROM bars", False),
        ("DELETE FROM bars", False),
        ("INSERT INTO copilot_messages SELECT * FROM copilot_messages", False),
        ("SELECT * FROM read_csv('x'); COPY bars TO 'y'", False),
        ("PRAGMA database_list", False),
        ("ATTACH 'other.duckdb'", False),
    ],
)
def test_select_only_guard(sql: str, ok: bool) -> None:
    assert is_read_only(sql) is ok


def test_endpoint_cache_never_outlives_a_commit(tmp_path: Path) -> None:
    import datetime as dt

    from engine.config import load_config
    from engine.events import CycleCompleted, CycleStarted
    from engine.serve.server import StoreEndpoint
    from engine.store import Store

    config = load_config(overrides={"serve.runtime_dir": str(tmp_path / "rt")})
    store = Store.open(tmp_path / "c.duckdb")
    endpoint = StoreEndpoint.start(store, "run", config)
    assert endpoint is not None
    try:
        count = "SELECT count(*) AS n FROM cycles WHERE account = ?"
        assert endpoint.query(count, ["paper"]).to_pylist() == [{"n": 0}]
        store.con.execute(
            "INSERT INTO cycles (account, session, session_index, run_id, committed_at) "
            "VALUES ('paper', DATE '2016-01-04', 0, 'r', now())"
        )
        endpoint.publish(CycleStarted(dt.date(2016, 1, 4), 0))  # before a commit: the cache stays
        assert endpoint.query(count, ["paper"]).to_pylist() == [{"n": 0}]
        endpoint.publish(CycleCompleted(dt.date(2016, 1, 4), 0, 3, None, 0.1))
        assert endpoint.query(count, ["paper"]).to_pylist() == [{"n": 1}]
    finally:
        endpoint.close()
        store.close()
