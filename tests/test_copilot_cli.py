"""`pmax ask` and `pmax copilot status` from the command line."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.testing import seed_store
from engine.store import Store
from tui.cli import main


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.duckdb"
    store = Store.open(path)
    with store.transaction() as con:
        seed_store(con, dt.date(2018, 2, 7))
    store.close()
    return path


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_ask_streams_the_answer_with_sources(db: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["ask", "--db", str(db), "What is the latest signal for AAPL, and why?"]) == 0
    out, err = capsys.readouterr()
    assert "is **BUY** with confidence 0.73" in out and "2018-02-07" in out
    assert "**Sources**" in out and "`signals` [account=paper, ticker=AAPL]" in out
    assert "not saved in the chat history" in err and "attached" not in err
    # `ask` never takes the write lock, so the turn is not saved (the app's pane saves its own).
    store = Store.open(db, read_only=True)
    assert store.con.execute("SELECT count(*) FROM copilot_messages").fetchall()[0][0] == 0
    store.close()


def test_ask_json(db: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["--db", str(db), "ask", "--json", "what is our risk?"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(payload) >= {"answer", "sources", "checks", "backend", "timings"}
    assert payload["backend"] == "offline"
    src = payload["sources"][0]
    assert (src["table"], src["key"], src["as_of"]) == ("risk", "account=paper", "2018-02-07")
    assert src["rows"][0]["var_hist_95"] == 0.0183  # the row values the answer used
    assert payload["checks"]["numbers"] > 0 and payload["checks"]["unverified"] == 0
    assert "+1.83%" in payload["answer"] and payload["timings"]["total_s"] > 0


def test_ask_missing_database_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["ask", "--db", str(tmp_path / "none.duckdb"), "hi"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "hint:" in err
    assert not (tmp_path / "none.duckdb").exists()


def test_ask_on_a_database_held_by_another_process_exits_2(
    db: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder that is not a serving pmax: ask waits [serve] lock_wait_s, then says who holds it."""
    monkeypatch.setenv("PMAX_SERVE__LOCK_WAIT_S", "1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert run(["ask", "--db", str(db), "what is our risk?"]) == 2
        err = capsys.readouterr().err
        assert f"process {holder.pid}" in err and "nobody serves it" in err
        assert "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()


def test_copilot_status(capsys: pytest.CaptureFixture) -> None:
    assert run(["copilot", "status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["configured_backend"] == "auto" and info["backend"] == "offline"
    assert "process_rss_mib" in info["memory"]
    assert run(["copilot", "status"]) == 0
    assert "backend: offline" in capsys.readouterr().out


def test_status_with_a_missing_transformers_model_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMAX_COPILOT__BACKEND", "transformers")
    monkeypatch.setenv("PMAX_COPILOT__MODEL", str(tmp_path / "no-model"))
    assert run(["copilot", "status", "--json"]) == 1  # the configured backend cannot answer
    info = json.loads(capsys.readouterr().out)
    assert info["available"] is False and "no model found" in info["error"]


def test_status_says_the_server_is_unreachable_and_reports_the_check_rate(
    db: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.session import CopilotSession
    from engine.config import load_config

    # `pmax ask` only reads; the app's Copilot pane (a writable store) records its checks.
    store = Store.open(db)
    CopilotSession(store.cursor, load_config()).ask("what is our risk?")
    store.close()
    assert run(["copilot", "status", "--db", str(db), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["number_checks"]["offline"]["answers"] == 1
    assert info["number_checks"]["offline"]["answers_with_unverified"] == 0
    assert any("openai_model is empty" in line for line in info["auto_tried"])
    monkeypatch.setenv("PMAX_COPILOT__BACKEND", "openai")
    monkeypatch.setenv("PMAX_COPILOT__OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert run(["copilot", "status"]) == 1
    out = capsys.readouterr().out
    assert "reachable: False" in out and "cannot reach http://127.0.0.1:9/v1/models" in out


def test_ask_with_a_server_that_answers_nothing_exits_1(
    db: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.openai_testserver import FakeOpenAIServer, content_chunks

    with FakeOpenAIServer(lambda req: content_chunks("")) as srv:
        monkeypatch.setenv("PMAX_COPILOT__OPENAI_BASE_URL", srv.url)
        assert run(["--db", str(db), "ask", "--backend", "openai", "what is our risk?"]) == 1
    err = capsys.readouterr().err
    assert "empty answer" in err and "Traceback" not in err
