"""One trial: a full replay with one configuration, run in a worker on its own database.

`run_trial` is what a local process or a Ray task executes: it opens a temporary
DuckDB file, replays the data with the trial's config through the very engine
`pmax --run` uses, measures the result (`trial_metrics`) and returns the daily
equity as an Arrow table. It never touches the main database, and a failure comes
back as a result with its error instead of an exception, so one bad trial does not
stop a sweep. Also here: the config hash and data fingerprint the ledger keys on.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import Config, load_defaults

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# Settings that cannot change a trial's numbers: where results go, how they are shown,
# secrets, and the data path (the data itself is the fingerprint).
_NOT_RESULTS = (
    "app.db_path",
    "app.account",
    "app.log_level",
    "replay.data",
    "replay.interval_s",
    "data.finnhub_api_key",
    "data.local_path",
    "sweep",
    "tui",
    "keymap",
    "copilot",
    "live",
)


@dataclass(frozen=True)
class TrialSpec:
    """What a worker needs to run one trial (small: it ships with every task)."""

    trial_id: str
    params: dict[str, Any]
    config_values: dict[str, Any]
    until: dt.date | None
    data_path: str  # the replay file on the driver (shipped as bytes to Ray tasks)
    data_fingerprint: str  # taken when the sweep was planned
    config_hash: str


@dataclass
class TrialResult:
    """What a worker sends back: metrics and the daily equity, or the error."""

    trial_id: str
    status: str  # finished | failed
    wall_s: float
    metrics: dict[str, Any] = field(default_factory=dict)
    equity: pa.Table | None = None  # as_of, equity, daily_return
    error: str | None = None


def run_trial(spec: TrialSpec, data_bytes: bytes | None = None) -> TrialResult:
    """Replay `spec` on a temporary database; `data_bytes` replaces the data file (remote workers)."""
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="pmax-trial-") as tmp:
            values = copy.deepcopy(spec.config_values)
            if data_bytes is not None:
                local = Path(tmp) / Path(spec.data_path).name
                local.write_bytes(data_bytes)
                values["replay"]["data"] = str(local)
            metrics, equity = _replay(Config(values, None), Path(tmp) / "trial.duckdb", spec.until)
    except Exception as exc:  # noqa: BLE001 - a failed trial is recorded with its error, not raised
        return TrialResult(spec.trial_id, "failed", time.perf_counter() - started, error=one_line_error(exc))
    return TrialResult(spec.trial_id, "finished", time.perf_counter() - started, metrics, equity)


def _replay(config: Config, db: Path, until: dt.date | None) -> tuple[dict[str, Any], pa.Table]:
    from engine.runtime import build_engine, build_feed
    from engine.store import Store

    feed = build_feed(config, None)
    store = Store.open(db)
    try:
        engine = build_engine(store, config, feed=feed)
        asyncio.run(engine.run(until=until))
        metrics = trial_metrics(store.con, engine.account)
        equity = store.con.sql(
            "SELECT as_of, equity, daily_return FROM equity WHERE account = ? ORDER BY as_of", params=[engine.account]
        ).to_arrow_table()
    finally:
        store.close()
    return metrics, equity


def trial_metrics(con: duckdb.DuckDBPyConnection, account: str) -> dict[str, Any]:
    """The run summary over every stored session, plus the figures a sweep compares.

    Everything comes from `engine.portfolio.summary.run_summary` (Sharpe and PSR are
    null, with `metrics_withheld`, under its minimum number of returns): `turnover`
    (one-way, annualised) and `costs` (commission + slippage paid) are its benchmark
    report's `turnover` and `costs_paid`. Added here: `sharpe_period`, the same
    Sharpe ratio per session, which the deflated Sharpe ratio needs.
    """
    from engine.metrics import sharpe_ratio
    from engine.portfolio.summary import run_summary

    summary = dict(run_summary(con, account))
    report = summary.get("benchmark") or {}
    summary["turnover"] = report.get("turnover")
    summary["costs"] = report.get("costs_paid")
    summary["sharpe_period"] = None
    if summary.get("sharpe") is not None:
        rows = con.execute("SELECT daily_return FROM equity WHERE account = ? ORDER BY as_of", [account]).fetchall()
        per_period = float(sharpe_ratio([float(r[0] or 0.0) for r in rows][1:], annualization=1))
        summary["sharpe_period"] = per_period if math.isfinite(per_period) else None
    return summary


def result_relevant(config: Config) -> dict[str, Any]:
    """Every setting that can change a trial's numbers, as {dotted key: value} (secrets blanked)."""
    return {
        k: v
        for k, v in _dotted(config.public_dict()).items()
        if not any(k == p or k.startswith(p + ".") for p in _NOT_RESULTS)
    }


def config_hash(config: Config) -> str:
    """sha256 (16 hex) of the result-relevant settings: equal hashes mean the same strategy.

    Unlike `engine.runs.config_hash`, which flags any settings change on resume, this
    ignores what cannot change results (paths, display, copilot), so a `pmax --run` and
    a sweep trial of the same strategy count once in the ledger.
    """
    text = json.dumps(result_relevant(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed_settings(config: Config) -> dict[str, Any]:
    """Result-relevant settings that differ from `config/default.toml` (JSON-safe)."""
    defaults = _dotted(load_defaults())
    return {k: _json_safe(v) for k, v in result_relevant(config).items() if defaults.get(k) != v}


def replay_path(config: Config) -> Path:
    """The file a replay with `config` reads (the bundled sample when none is set)."""
    from engine.feeds import SAMPLE_PATH

    return Path(config.replay.data).expanduser().resolve() if config.replay.data else SAMPLE_PATH


def data_fingerprint(config: Config) -> str:
    """The text "file:" + the sha256 (16 hex) of the replay file (`engine.runs.file_fingerprint`)."""
    path = replay_path(config)
    stat = path.stat()
    return _file_digest(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _file_digest(path: str, _mtime_ns: int, _size: int) -> str:
    from engine.runs import file_fingerprint

    return "file:" + file_fingerprint(Path(path))


def _dotted(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _json_safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def one_line_error(exc: BaseException) -> str:
    """The error as "Type: first line of its message", for a ledger row or a report."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
