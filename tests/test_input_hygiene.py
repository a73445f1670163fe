"""Bad input stops the real `pmax` with exit 2 and one line, before the database is touched;
the gate quarantines what it can place; a replay database never receives its future.

Refusals that end before any session or write (each bad file, each bad path, a bad
ticker, a replay's future, a newer schema) call `pmax`'s entry point in this process
(`call_pmax`); everything that writes runs the real `pmax` in a subprocess."""

from __future__ import annotations

import datetime as dt
import resource
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from pmax_cli import FAST, REPO, call_pmax, pmax_argv, pmax_env, rows, run_pmax

from engine.store import connect

SAMPLE = REPO / "data" / "watchlist_sample.parquet"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small CSVs cut from the bundled sample, each with one defect."""
    root = tmp_path_factory.mktemp("files")
    df = pd.read_parquet(SAMPLE)
    small = df[df["date"] <= dt.date(2016, 3, 1)].reset_index(drop=True)
    out: dict[str, Path] = {}

    def save(name: str, frame: pd.DataFrame) -> None:
        out[name] = root / f"{name}.csv"
        frame.to_csv(out[name], index=False)

    save("ok", small)
    save("later", df[df["date"] <= dt.date(2016, 6, 1)])
    bad = small.astype({"ticker": object})
    bad.loc[5, "ticker"] = "AAPL'; DROP TABLE bars;--"
    save("sql_ticker", bad)
    bad = small.astype({"ticker": object})
    bad.loc[5, "ticker"] = "ÄPPL ☃"
    save("unicode_ticker", bad)
    bad = small.astype({"ticker": object})
    bad.loc[5, "ticker"] = "X" * 46
    save("long_ticker", bad)
    bad = small.astype({"date": object})
    bad.loc[7, "date"] = None
    save("blank_date", bad)
    bad = small.astype({"ticker": object})
    bad.loc[3, "ticker"] = None
    save("blank_ticker", bad)
    friday = small[small["date"] == dt.date(2016, 1, 8)]
    save("saturday", pd.concat([small, friday.assign(date=dt.date(2016, 1, 9))]))
    save("future", pd.concat([small, friday.assign(date=dt.date(2030, 1, 2))]))
    inv = small.copy()
    i = inv.index[(inv["ticker"] == "AAPL") & (inv["date"] == dt.date(2016, 1, 6))][0]
    inv.loc[i, ["high", "low"]] = [inv.loc[i, "low"], inv.loc[i, "high"]]
    save("inverted", inv)
    save("newco", pd.concat([small, small[small["ticker"] == "AAPL"].assign(ticker="NEWCO")]))
    return out


BAD_FILES = [
    ("sql_ticker", 'ticker "AAPL\'; DROP TABLE BARS;-…" is not a ticker'),
    ("unicode_ticker", "ticker 'ÄPPL ☃' is not a ticker"),
    ("long_ticker", "is not a ticker"),
    ("blank_date", "1 row(s) with a blank date (data row 8)"),
    ("blank_ticker", "1 row(s) with a blank ticker (data row 4)"),
    ("future", "20 row(s) dated after today (first 2030-01-02)"),
]


@pytest.mark.parametrize(("name", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
@pytest.mark.parametrize("command", ["run", "import"])
def test_bad_file_exits_2_before_the_database(
    tmp_path: Path, files: dict[str, Path], name: str, fragment: str, command: str
) -> None:
    db = tmp_path / "x.duckdb"
    args = (
        ["--run", "--cycles", "1", "--data", str(files[name])]
        if command == "run"
        else ["data", "import", str(files[name])]
    )
    result = call_pmax(tmp_path, *args, "--db", str(db))
    assert result.returncode == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"pmax: data file {files[name]}") and fragment in first, first
    assert "Traceback" not in result.stderr and not db.exists()


def test_weekend_row_never_becomes_a_session(tmp_path: Path, files: dict[str, Path]) -> None:
    db = tmp_path / "w.duckdb"
    result = call_pmax(tmp_path, "--run", "--cycles", "1", "--data", str(files["saturday"]), "--db", str(db))
    assert result.returncode == 2
    assert "1 date(s) are not NYSE sessions (first 2016-01-09, a Saturday)" in result.stderr.splitlines()[0]
    assert not db.exists()
    # Imported, the same rows are kept but quarantined and reported.
    imp = run_pmax(tmp_path, "data", "import", str(files["saturday"]), "--db", str(db))
    assert imp.returncode == 0, imp.stderr
    assert rows(db, "SELECT count(*) FROM bars WHERE date = DATE '2016-01-09' AND NOT quarantined") == [(0,)]
    assert rows(db, "SELECT count(*) FROM quality_issues WHERE rule = 'non_session'") == [(20,)]


def test_inverted_bar_is_quarantined_and_reimport_is_idempotent(tmp_path: Path, files: dict[str, Path]) -> None:
    db = tmp_path / "i.duckdb"
    for _ in range(2):
        result = run_pmax(tmp_path, "data", "import", str(files["inverted"]), "--db", str(db))
        assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT quarantined FROM bars WHERE ticker = 'AAPL' AND date = DATE '2016-01-06'") == [(True,)]
    assert rows(db, "SELECT rule, action, count(*) FROM quality_issues GROUP BY ALL") == [("ohlc", "quarantine", 1)]
    assert "below low" in rows(db, "SELECT detail FROM quality_issues")[0][0]


@pytest.fixture(scope="module")
def replay_db(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("replay")
    db = home / "r.duckdb"
    result = run_pmax(home, "--run", "--cycles", "2", "--data", str(files["ok"]), "--db", str(db), env=FAST)
    assert result.returncode == 0, result.stderr
    return home, db


def _state(db: Path) -> tuple:
    return rows(db, "SELECT count(*), max(date), count(DISTINCT ticker) FROM bars")[0]


def test_import_into_a_replay_never_stores_its_future(replay_db: tuple[Path, Path], files: dict[str, Path]) -> None:
    home, db = replay_db
    before = _state(db)
    result = call_pmax(home, "data", "import", str(files["later"]), "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.startswith(f"pmax: database {db} is a replay at 2016-01-05; this file holds")
    assert "--until 2016-01-05" in result.stderr
    assert _state(db) == before and before[1] == dt.date(2016, 1, 5)
    past = run_pmax(home, "data", "import", str(files["later"]), "--until", "2016-01-05", "--db", str(db))
    assert past.returncode == 0, past.stderr
    assert _state(db)[1] == dt.date(2016, 1, 5)


def test_import_never_grows_a_replay_universe(replay_db: tuple[Path, Path], files: dict[str, Path]) -> None:
    home, db = replay_db
    before = _state(db)
    result = call_pmax(home, "data", "import", str(files["newco"]), "--until", "2016-01-05", "--db", str(db))
    assert result.returncode == 2
    assert "this file adds 1 it does not trade (NEWCO)" in result.stderr.splitlines()[0]
    assert _state(db) == before


def test_newer_schema_is_refused_by_runs_and_readers(tmp_path: Path, files: dict[str, Path]) -> None:
    db = tmp_path / "n.duckdb"
    assert run_pmax(tmp_path, "data", "import", str(files["ok"]), "--db", str(db)).returncode == 0
    con = connect(str(db))
    con.execute("INSERT INTO schema_migrations VALUES (999, 'm999_future', now())")
    con.close()
    result = call_pmax(tmp_path, "--run", "--cycles", "1", "--db", str(db), env=FAST)
    assert result.returncode == 2
    assert result.stderr.startswith(f"pmax: {db} was written by a newer pmax (schema version 999;")
    assert "upgrade pmax" in result.stderr
    assert rows(db, "SELECT count(*) FROM runs") == [(0,)]
    result = call_pmax(tmp_path, "data", "check", "--db", str(db))
    assert result.returncode == 2 and "was written by a newer pmax (schema version 999;" in result.stderr


@pytest.mark.parametrize(
    "make_path",
    [
        lambda tmp: tmp / "a_file" / "x.duckdb",  # a regular file where a folder must be
        lambda tmp: Path("/proc/self/nope/x.duckdb"),  # a folder that cannot be created
    ],
    ids=["under_a_file", "under_proc"],
)
def test_os_error_on_the_database_path_is_one_line(tmp_path: Path, make_path, files: dict[str, Path]) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    db = make_path(tmp_path)
    for args in (["--run", "--cycles", "1"], ["data", "import", str(files["ok"])]):
        result = call_pmax(tmp_path, *args, "--db", str(db))
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[0].startswith("pmax: cannot use ") and "internal error" not in result.stderr
        assert len(lines) == 2 and lines[1].startswith("  hint: ")


def test_disk_full_is_a_clear_message(tmp_path: Path, files: dict[str, Path]) -> None:
    """A file-size limit makes every write past 600 kB fail, as a full disk does."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000))

    db = tmp_path / "full.duckdb"
    result = subprocess.run(
        pmax_argv("data", "import", str(files["ok"]), "--db", str(db)),
        cwd=REPO,
        env=pmax_env(tmp_path),
        preexec_fn=limit,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("pmax: disk full (or file-size limit reached) while writing")
    assert "internal error" not in result.stderr and "report it" not in result.stderr
    assert rows(db, "SELECT count(*) FROM bars") == [(0,)]  # the failed import left nothing behind


def test_fetch_refuses_a_bad_ticker(tmp_path: Path) -> None:
    result = call_pmax(tmp_path, "data", "fetch", "AAPL;DROP", "--db", str(tmp_path / "f.duckdb"))
    assert result.returncode == 2
    assert result.stderr.startswith("pmax: 'AAPL;DROP' is not a ticker")
    assert not (tmp_path / "f.duckdb").exists()
