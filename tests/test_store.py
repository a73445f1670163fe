"""The DuckDB store: round trip, forward migrations, transactions, the lock message."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.errors import DatabaseLockedError
from engine.store import Store, append, latest_version, migrate, upsert


def bars_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": ["AAPL", "AAPL"],
            "date": [dt.date(2016, 1, 4), dt.date(2016, 1, 5)],
            "open": [102.61, 105.75],
            "high": [105.368, 105.85],
            "low": [102.0, 102.41],
            "close": [105.35, 102.71],
            "volume": [67649387, 55790992],
            "source": ["sample", "sample"],
        }
    )


def test_round_trip_keeps_values(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    append(store.con, "bars", bars_frame())
    store.close()
    again = Store.open(tmp_path / "s.duckdb", read_only=True)
    back = again.query_df("SELECT * FROM bars ORDER BY date")
    assert back["close"].tolist() == [105.35, 102.71]
    assert back["volume"].tolist() == [67649387, 55790992]
    assert back["quarantined"].tolist() == [False, False]
    assert again.schema_version() == latest_version()


def test_upsert_replaces_on_primary_key(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.duckdb")
    upsert(store.con, "bars", bars_frame())
    changed = bars_frame().iloc[:1].assign(close=999.0)
    upsert(store.con, "bars", changed)
    closes = store.query_df("SELECT close FROM bars ORDER BY date")["close"].tolist()
    assert closes == [999.0, 102.71]


def test_migrations_apply_forward_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    everything = migrate.discover()
    monkeypatch.setattr(migrate, "discover", lambda: everything[:1])
    store = Store.open(tmp_path / "m.duckdb")
    assert store.schema_version() == everything[0].version
    append(store.con, "bars", bars_frame())
    store.close()
    monkeypatch.setattr(migrate, "discover", lambda: everything)
    store = Store.open(tmp_path / "m.duckdb")
    assert store.schema_version() == everything[-1].version
    assert len(store.query_df("SELECT * FROM bars")) == 2  # data survives the upgrade
    applied = store.query_df("SELECT version FROM schema_migrations ORDER BY version")["version"].tolist()
    assert applied == [m.version for m in everything]
    assert migrate.apply_migrations(store.con) == []


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.duckdb")
    with pytest.raises(RuntimeError), store.transaction() as con:
        append(con, "bars", bars_frame())
        raise RuntimeError("crash mid-cycle")
    assert store.query_df("SELECT count(*) AS n FROM bars")["n"][0] == 0


def test_locked_database_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(DatabaseLockedError) as err:
            Store.open(db)
        assert "in use" in err.value.message and str(holder.pid) in err.value.message
        assert err.value.exit_code == 2
    finally:
        holder.kill()
        holder.wait()


def test_read_only_open_of_missing_file_is_usage_error(tmp_path: Path) -> None:
    from engine.errors import UsageError

    with pytest.raises(UsageError, match="does not exist"):
        Store.open(tmp_path / "absent.duckdb", read_only=True)
