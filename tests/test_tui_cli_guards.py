"""CLI guards (issue 12): run-only flags need --run; --until before the replay start is
refused before the database is touched; the TUI needs a terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tui.cli import main


@pytest.mark.parametrize("args", [["--until", "2016-06-03"], ["--cycles", "3"], ["--json"]])
def test_run_only_flags_without_run_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert args[0] in err and "--run" in err and "Traceback" not in err


def test_run_until_before_the_replay_start_exits_2(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "early.duckdb"
    with pytest.raises(SystemExit) as exc:
        main(["--run", "--until", "2014-03-01", "--db", str(db)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pmax: --until 2014-03-01 is before the replay start 2016-01-04") and "Traceback" not in err
    assert not db.exists()  # caught before the database is touched


def test_no_terminal_means_no_tui(tmp_path) -> None:
    """With stdout piped the app must not start (no escape codes into the pipe)."""
    proc = subprocess.run(
        [sys.executable, "-c", "from tui.cli import main; main(['--db', 'x.duckdb'])"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(__import__("pathlib").Path(__file__).parent.parent),
            "HOME": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
    )
    assert proc.returncode == 2, proc.stderr
    assert "--run" in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "x.duckdb").exists()  # caught before the database is touched
