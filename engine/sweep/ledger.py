"""The trial ledger: writes and reads of `trials`, `trial_returns` and `sweeps`.

Only the process that owns the database writes here (the sweep driver, or the
`pmax --run` engine). A *group* is every finished trial on the same data
fingerprint and period; within a group a configuration counts once (its latest
trial), so rerunning a sweep does not inflate the number of trials.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.store import append

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_METRIC_COLUMNS = ("sharpe", "sharpe_period", "total_return", "psr", "max_drawdown", "turnover", "costs")


@dataclass(frozen=True)
class TrialRecord:
    """One ledger row, before it is written."""

    trial_id: str
    source: str  # sweep | run
    engine: str  # local | ray | replay | live
    config_hash: str
    params: dict[str, Any]
    config: dict[str, Any]
    data_fingerprint: str
    status: str  # finished | failed
    wall_s: float
    metrics: dict[str, Any]
    sweep_id: str | None = None
    error: str | None = None


def record_trial(con: duckdb.DuckDBPyConnection, record: TrialRecord, equity: pa.Table | None) -> None:
    """Write one trial and its daily equity in one transaction."""
    m = record.metrics
    row = {
        "trial_id": record.trial_id,
        "sweep_id": record.sweep_id,
        "source": record.source,
        "engine": record.engine,
        "recorded_at": pd.Timestamp.now(),
        "config_hash": record.config_hash,
        "params": json.dumps(record.params, default=str, sort_keys=True),
        "config": json.dumps(record.config, default=str, sort_keys=True),
        "data_fingerprint": record.data_fingerprint,
        "first_session": _date(m.get("first_session")),
        "last_session": _date(m.get("last_session")),
        "sessions": int(m.get("sessions") or 0),
        "status": record.status,
        "error": record.error,
        "wall_s": float(record.wall_s),
        **{name: _float(m.get(name)) for name in _METRIC_COLUMNS},
        "metrics": json.dumps(m, default=str, sort_keys=True),
    }
    frame = pd.DataFrame([row]).astype({"first_session": "object", "last_session": "object"})
    con.execute("BEGIN TRANSACTION")
    try:
        append(con, "trials", frame)
        if equity is not None and equity.num_rows:
            returns = equity.to_pandas()
            returns.insert(0, "trial_id", record.trial_id)
            append(con, "trial_returns", returns[["trial_id", "as_of", "equity", "daily_return"]])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def start_sweep(
    con: duckdb.DuckDBPyConnection, sweep_id: str, grid: str, engine: str, workers: int, n_trials: int
) -> None:
    """The `sweeps` row of a sweep that starts now."""
    append(
        con,
        "sweeps",
        pd.DataFrame(
            [
                {
                    "sweep_id": sweep_id,
                    "started_at": pd.Timestamp.now(),
                    "grid": grid,
                    "engine": engine,
                    "workers": workers,
                    "n_trials": n_trials,
                    "status": "running",
                }
            ]
        ),
    )


def end_sweep(con: duckdb.DuckDBPyConnection, sweep_id: str, status: str) -> None:
    """Close the sweep's row: finished, interrupted (Ctrl-C) or failed."""
    con.execute("UPDATE sweeps SET finished_at = now(), status = ? WHERE sweep_id = ?", [status, sweep_id])


_GROUP_SQL = """
SELECT trial_id, config_hash, sharpe_period FROM (
    SELECT trial_id, config_hash, sharpe_period,
           row_number() OVER (PARTITION BY config_hash ORDER BY recorded_at DESC, trial_id DESC) AS newest
    FROM trials
    WHERE status = 'finished' AND data_fingerprint = ? AND first_session = ? AND last_session = ?
) WHERE newest = 1 ORDER BY trial_id
"""


def group_trials(
    con: duckdb.DuckDBPyConnection, fingerprint: str, first: Any, last: Any
) -> list[tuple[str, float | None]]:
    """(trial_id, per-session Sharpe) of each distinct configuration on this data and period."""
    rows = con.execute(_GROUP_SQL, [fingerprint, _date(first), _date(last)]).fetchall()
    return [(trial_id, sr) for trial_id, _hash, sr in rows]


def returns_matrix(con: duckdb.DuckDBPyConnection, trial_ids: list[str]) -> tuple[list[str], np.ndarray]:
    """Daily returns of `trial_ids` on the sessions they all share (sessions × trials).

    The first stored session (whose return is the warm-up's start) is skipped, as
    in the run summary.
    """
    if not trial_ids:
        return [], np.empty((0, 0))
    frame = con.execute(
        "SELECT trial_id, as_of, daily_return, row_number() OVER (PARTITION BY trial_id ORDER BY as_of) AS k "
        "FROM trial_returns WHERE trial_id IN (SELECT unnest(?))",
        [trial_ids],
    ).df()
    frame = frame[frame["k"] > 1]
    wide = frame.pivot(index="as_of", columns="trial_id", values="daily_return").sort_index()
    wide = wide.reindex(columns=[t for t in trial_ids if t in wide.columns]).dropna()
    return list(wide.columns), wide.to_numpy(dtype=float)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
