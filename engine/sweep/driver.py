"""The sweep driver: plan the trials, run them, write the ledger, judge the winner.

The driver is the only writer of the main database. `plan_trials` checks every
trial's data before the database is opened (a bad file is exit 2 with nothing
written); `run_sweep` hands the specs to a runner, records each result in the
ledger as it arrives (finished or failed), stops cleanly on Ctrl-C keeping what
finished, and builds the report: per-trial metrics, the best trial's deflated
Sharpe over the ledger's group, and the PBO over that group's daily returns.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.config import Config, check_until
from engine.errors import UsageError
from engine.sweep.grid import Grid
from engine.sweep.ledger import TrialRecord, end_sweep, group_trials, record_trial, returns_matrix, start_sweep
from engine.sweep.stats import deflated_best, pbo_cscv
from engine.sweep.trial import TrialResult, TrialSpec, changed_settings, config_hash, data_fingerprint, replay_path

if TYPE_CHECKING:
    from engine.store import Store
    from engine.sweep.runners import Runner

OnResult = Callable[[TrialResult, dict[str, Any], int, int], None]


@dataclass(frozen=True)
class SweepSettings:
    """How to run a sweep ([sweep] settings with the flags applied)."""

    engine: str
    workers: int
    address: str | None
    until: dt.date | None
    pbo_blocks: int
    dsr_threshold: float


def sweep_settings(
    config: Config, engine: str | None, workers: int | None, address: str | None, until: dt.date | None
) -> SweepSettings:
    """The [sweep] section (checked at load by `engine.config_rules`) overridden by flags."""
    section = config.sweep
    chosen = engine or section.engine
    if address and chosen != "ray":
        raise UsageError("--address works with --engine ray", "add --engine ray, or drop --address")
    count = workers if workers is not None else section.workers
    return SweepSettings(
        chosen,
        count or (os.cpu_count() or 1),
        address or section.address or None,
        until,
        section.pbo_blocks,
        section.dsr_threshold,
    )


def plan_trials(grid: Grid, sweep_id: str, until: dt.date | None) -> list[TrialSpec]:
    """One spec per grid point; every distinct data/universe/start is opened once (InputError here)."""
    from engine.runtime import build_feed

    checked: set[tuple[str, tuple[str, ...], str]] = set()
    specs = []
    for trial in grid.trials:
        config = trial.config
        check_until(config, until)
        key = (str(replay_path(config)), tuple(config.data.watchlist), str(config.replay.start))
        if key not in checked:
            build_feed(config, None)
            checked.add(key)
        specs.append(
            TrialSpec(
                f"{sweep_id}-{trial.index:03d}",
                trial.params,
                config.to_dict(),
                until,
                key[0],
                data_fingerprint(config),
                config_hash(config),
            )
        )
    return specs


@dataclass
class SweepOutcome:
    """What `run_sweep` did, before the report is built."""

    sweep_id: str
    results: dict[str, TrialResult] = field(default_factory=dict)
    interrupted: bool = False
    wall_s: float = 0.0


def run_sweep(
    store: Store,
    grid: Grid,
    specs: list[TrialSpec],
    settings: SweepSettings,
    runner: Runner,
    sweep_id: str,
    on_result: OnResult | None = None,
) -> SweepOutcome:
    """Run `specs` (planned from `grid`) on `runner`, writing each result to the ledger as it arrives."""
    outcome = SweepOutcome(sweep_id)
    by_id = {spec.trial_id: spec for spec in specs}
    start_sweep(store.con, sweep_id, str(grid.path), settings.engine, settings.workers, len(specs))
    started = time.perf_counter()
    try:
        with runner:
            for result in runner.results(specs):
                spec = by_id[result.trial_id]
                _record(store, spec, result, settings.engine, sweep_id)
                outcome.results[result.trial_id] = result
                if on_result:
                    on_result(result, spec.params, len(outcome.results), len(specs))
    except KeyboardInterrupt:
        outcome.interrupted = True
    except BaseException:
        end_sweep(store.con, sweep_id, "failed")
        raise
    outcome.wall_s = time.perf_counter() - started
    end_sweep(store.con, sweep_id, "interrupted" if outcome.interrupted else "finished")
    return outcome


def _record(store: Store, spec: TrialSpec, result: TrialResult, engine: str, sweep_id: str) -> None:
    record = TrialRecord(
        trial_id=spec.trial_id,
        source="sweep",
        engine=engine,
        config_hash=spec.config_hash,
        params=spec.params,
        config=changed_settings(Config(spec.config_values, None)),
        data_fingerprint=spec.data_fingerprint,
        status=result.status,
        wall_s=result.wall_s,
        metrics=result.metrics,
        sweep_id=sweep_id,
        error=result.error,
    )
    record_trial(store.con, record, result.equity)


_TRIAL_FIELDS = (
    "sharpe",
    "total_return",
    "psr",
    "turnover",
    "costs",
    "max_drawdown",
    "sessions",
    "first_session",
    "last_session",
    "trade_count",
    "metrics_withheld",
)


def build_report(
    store: Store, specs: list[TrialSpec], outcome: SweepOutcome, settings: SweepSettings
) -> dict[str, Any]:
    """The sweep's report as one JSON-serialisable dict (the CLI prints it)."""
    trials = []
    for spec in specs:
        result = outcome.results.get(spec.trial_id)
        row: dict[str, Any] = {
            "trial_id": spec.trial_id,
            "params": spec.params,
            "status": result.status if result else "cancelled",
        }
        if result:
            row.update({name: result.metrics.get(name) for name in _TRIAL_FIELDS})
            row.update(wall_s=round(result.wall_s, 2), error=result.error)
        trials.append(row)
    finished = [t for t in trials if t["status"] == "finished" and _finite(t.get("sharpe"))]
    report: dict[str, Any] = {
        "sweep_id": outcome.sweep_id,
        "engine": settings.engine,
        "workers": settings.workers,
        "interrupted": outcome.interrupted,
        "wall_s": round(outcome.wall_s, 2),
        "trials": trials,
        "failed": sum(t["status"] == "failed" for t in trials),
        "best": None,
        "pbo": None,
    }
    if not finished:
        why = next((t["metrics_withheld"] for t in trials if t.get("metrics_withheld")), None)
        report.update(
            distinguishable_from_luck=False,
            verdict=f"No finished trial has a Sharpe ratio{f' ({why}: use a later --until)' if why else ''}: "
            "nothing to judge.",
        )
        return report
    best = max(finished, key=lambda t: t["sharpe"])
    identical = len(finished) > 1 and len({t["sharpe"] for t in finished}) == 1
    report.update(_judge_best(store, best, outcome.results[best["trial_id"]], settings, identical))
    return report


def _judge_best(
    store: Store, best: dict[str, Any], result: TrialResult, settings: SweepSettings, identical: bool
) -> dict[str, Any]:
    fingerprint = store.con.execute(
        "SELECT data_fingerprint FROM trials WHERE trial_id = ?", [best["trial_id"]]
    ).fetchall()[0][0]
    group = group_trials(store.con, fingerprint, best["first_session"], best["last_session"])
    assert result.equity is not None  # the best trial finished, so it carries its equity
    returns = [float(x or 0.0) for x in result.equity.column("daily_return").to_pylist()][1:]
    deflated = deflated_best(returns, [sr for _id, sr in group])
    ids, matrix = returns_matrix(store.con, [trial_id for trial_id, _sr in group])
    pbo = pbo_cscv(matrix, settings.pbo_blocks) if ids else None
    baseline = result.metrics.get("baseline") or {}
    best_out = {
        "trial_id": best["trial_id"],
        "params": best["params"],
        "sharpe": best["sharpe"],
        "psr": best["psr"],
        "total_return": best["total_return"],
        "deflated_sharpe": _round(deflated.deflated_sharpe),
        "n_trials": deflated.n_trials,
        "sharpe_variance": _round(deflated.sharpe_variance, 8),
        "expected_max_sharpe": _round(deflated.expected_max_sharpe),
        "data_fingerprint": fingerprint,
        "first_session": best["first_session"],
        "last_session": best["last_session"],
        "baseline": baseline,
        "identical_results": identical,
    }
    lucky = (
        deflated.deflated_sharpe is None
        or deflated.deflated_sharpe < settings.dsr_threshold
        or (pbo is not None and pbo.pbo >= 0.5)
    )
    return {
        "best": best_out,
        "pbo": _round(pbo.pbo) if pbo else None,
        "pbo_detail": {
            "blocks": pbo.blocks,
            "combinations": pbo.combinations,
            "sessions": pbo.sessions,
            "trials": pbo.trials,
        }
        if pbo
        else None,
        "distinguishable_from_luck": not lucky,
        "verdict": _verdict(best_out, pbo.pbo if pbo else None, settings.dsr_threshold, lucky),
    }


def _verdict(best: dict[str, Any], pbo: float | None, threshold: float, lucky: bool) -> str:
    dsr, n = best["deflated_sharpe"], best["n_trials"]
    trials = f"{n} trial{'s' if n != 1 else ''} on this data and period"
    reasons = []
    if dsr is None:
        reasons.append("its Sharpe ratio cannot be deflated (too few sessions)")
    elif dsr < threshold:
        reasons.append(f"the best trial's deflated Sharpe ratio is {dsr:.2f} (needs ≥ {threshold:.2f}) after {trials}")
    if pbo is not None and pbo >= 0.5:
        passed = f"its deflated Sharpe ratio {dsr:.2f} passes, but " if dsr is not None and dsr >= threshold else ""
        reasons.append(
            f"{passed}PBO {pbo:.2f}: the in-sample best ranks at or below the median out of sample in most splits"
        )
    if lucky:
        head = "Not distinguishable from luck: " + "; ".join(reasons)
    else:
        head = f"The best trial survives deflation: deflated Sharpe ratio {dsr:.2f} ≥ {threshold:.2f} after {trials}"
    parts = [head]
    if pbo is None:
        parts.append("PBO not computable (too few trials or sessions)")
    elif pbo < 0.5:
        parts.append(f"PBO {pbo:.2f}")
    bench = best.get("baseline", {}).get("sharpe")
    if bench is not None and best["sharpe"] is not None and best["sharpe"] <= bench:
        parts.append(f"its Sharpe {best['sharpe']:.2f} does not beat equal-weight buy-and-hold ({bench:.2f})")
    if best.get("identical_results"):
        parts.append("every trial of this sweep gave the same Sharpe: the grid's keys did not change this replay")
    return "; ".join(parts) + "."


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def new_sweep_id() -> str:
    return "sweep-" + uuid.uuid4().hex[:10]
