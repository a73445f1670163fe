"""Records a `pmax --run` into the trial ledger, so plain runs count as trials too.

The trial is the account's whole stored history from its first session, so that it
compares with sweep trials, which replay from the start (a resumed run's `--json`
summary covers only its own sessions): its metrics, daily equity, the settings that
differ from the defaults, and the data fingerprint (the replayed file's; in live
mode, the stored bars' over the period).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.config import Config
from engine.sweep.ledger import TrialRecord, record_trial
from engine.sweep.trial import changed_settings, config_hash, data_fingerprint, trial_metrics

if TYPE_CHECKING:
    import duckdb

    from engine.loop import Engine


def record_run(engine: Engine, config: Config, sessions_run: int) -> str | None:
    """Write the engine's finished run to the ledger; the trial id, or None when it did nothing."""
    if sessions_run <= 0:
        return None
    con = engine.store.con
    timing = con.execute(
        "SELECT epoch(finished_at - started_at) FROM runs WHERE run_id = ?", [engine.run_id]
    ).fetchall()
    wall_s = float(timing[0][0]) if timing and timing[0][0] is not None else 0.0
    metrics = trial_metrics(con, engine.account)
    if not metrics.get("sessions"):
        return None
    live = engine.mode == "live"
    fingerprint = (
        _bars_fingerprint(con, metrics["first_session"], metrics["last_session"]) if live else data_fingerprint(config)
    )
    settings = changed_settings(config)
    equity = con.sql(
        "SELECT as_of, equity, daily_return FROM equity WHERE account = ? ORDER BY as_of", params=[engine.account]
    ).to_arrow_table()
    record = TrialRecord(
        trial_id=f"run-{engine.run_id}",
        source="run",
        engine=engine.mode,
        config_hash=config_hash(config),
        params=settings,
        config=settings,
        data_fingerprint=fingerprint,
        status="finished",
        wall_s=wall_s,
        metrics=metrics,
    )
    record_trial(con, record, equity)
    return record.trial_id


def _bars_fingerprint(con: duckdb.DuckDBPyConnection, first: str, last: str) -> str:
    """md5 of the stored, unquarantined bars over the period (what a live run traded on)."""
    digest = con.execute(
        "SELECT md5(coalesce(string_agg(concat_ws(',', ticker, date, open, high, low, close, volume), ';' "
        "ORDER BY ticker, date), '')) FROM bars WHERE date BETWEEN ? AND ? AND NOT quarantined",
        [first, last],
    ).fetchall()[0][0]
    return "bars:" + digest[:16]
