"""A model snapshot written by another version of pmax is refitted, never restored."""

from __future__ import annotations

import datetime as dt
import pickle

import duckdb

from engine.forecast.registry import create
from engine.forecast.runner import load_state


def _store_snapshot(con: duckdb.DuckDBPyConnection, payload: bytes) -> None:
    con.execute("CREATE TABLE forecast_state (account VARCHAR, model VARCHAR, as_of DATE, payload BLOB)")
    con.execute("INSERT INTO forecast_state VALUES ('paper', 'ssa', ?, ?)", [dt.date(2016, 1, 4), payload])


def test_a_snapshot_of_this_version_is_restored() -> None:
    con = duckdb.connect()
    _store_snapshot(con, pickle.dumps(create("ssa", {}, seed=7)))
    restored = load_state(con, "paper", "ssa")
    assert restored is not None and restored[0] == dt.date(2016, 1, 4)
    assert type(restored[1]).__name__ == "SsaForecaster"


def test_a_snapshot_without_this_version_is_refitted() -> None:
    old = create("ssa", {}, seed=7)
    del old.state_version_  # what code from before state versions pickled
    con = duckdb.connect()
    _store_snapshot(con, pickle.dumps(old))
    assert load_state(con, "paper", "ssa") is None


def test_a_snapshot_of_another_version_is_refitted() -> None:
    other = create("ssa", {}, seed=7)
    other.state_version_ = type(other).state_version - 1
    con = duckdb.connect()
    _store_snapshot(con, pickle.dumps(other))
    assert load_state(con, "paper", "ssa") is None
