"""Model lifecycle for the forecast stage: create, refit on schedule, update, persist, restore.

`ModelBank` keeps the forecasters of one account in memory (in `ctx.state`),
runs per-ticker refits in a process pool (spawned once, both cores) when the
universe is large, and pickles each model after a fit into `forecast_state` so
that a resumed run restores the exact state an uninterrupted run had.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import pickle
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import pandas as pd

from engine.forecast.base import Forecaster, Panel
from engine.forecast.registry import create

log = logging.getLogger(__name__)


class ModelBank:
    """The account's forecasters plus the pool their per-ticker fits run in."""

    def __init__(
        self,
        names: Sequence[str],
        params: Mapping[str, Mapping[str, Any]],
        *,
        seed: int,
        device: str = "cpu",
        workers: int = 2,
        parallel_min_tickers: int = 64,
    ) -> None:
        self.names = list(names)
        self.params = {n: dict(params.get(n, {})) for n in self.names}
        self.seed, self.device = seed, device
        self.workers, self.parallel_min_tickers = workers, parallel_min_tickers
        self.models: dict[str, Forecaster] = {}
        self.fit_day: dict[str, dt.date] = {}  # session whose data each model was last fitted on
        # Pickled state right after each model's last fit. Refits warm-start from it, not
        # from the daily-updated model in memory, so a resumed run (which restores this
        # snapshot) warm-starts from exactly what an uninterrupted run does.
        self.snapshots: dict[str, bytes] = {}
        self._pool: ProcessPoolExecutor | None = None

    def executor(self, n_tickers: int) -> Executor | None:
        """A spawn-context process pool for large universes (None: fit in this thread)."""
        if self.workers <= 1 or n_tickers < self.parallel_min_tickers:
            return None
        if self._pool is None:
            import multiprocessing as mp

            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
            atexit.register(self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def new(self, name: str) -> Forecaster:
        return create(name, self.params[name], seed=self.seed, device=self.device)

    def fit(self, name: str, panel: Panel, horizons: Sequence[int]) -> Forecaster:
        """Refit `name` on `panel`, warm-starting from the snapshot of its previous fit if any."""
        model, snapshot = self.train(name, panel, horizons)
        self.install(name, model, snapshot)
        return model

    def train(
        self, name: str, panel: Panel, horizons: Sequence[int], warm: bytes | bool | None = True
    ) -> tuple[Forecaster, bytes | None]:
        """A new fit of `name` and its pickled snapshot, leaving the bank untouched.

        It warm-starts from `warm` (a snapshot; True: the bank's current one). Safe to run
        on a background thread while the bank's current model forecasts.
        """
        snapshot = self.snapshots.get(name) if warm is True else warm
        assert not isinstance(snapshot, bool)
        model = pickle.loads(snapshot) if snapshot is not None else self.new(name)
        model.fit(panel, horizons, executor=self.executor(panel.n_tickers))
        try:
            return model, pickle.dumps(model, protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            log.warning("model %s cannot be pickled (%s); a resume will refit it", name, exc)
            return model, None

    def install(self, name: str, model: Forecaster, snapshot: bytes | None) -> None:
        """Make `model` (fitted by `train`) the one that forecasts from now on."""
        self.models[name] = model
        if snapshot is None:
            self.snapshots.pop(name, None)
        else:
            self.snapshots[name] = snapshot

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def save_state(con: Any, account: str, bank: ModelBank, name: str, fit_day: dt.date) -> None:
    """Upsert the snapshot of `name`'s latest fit as the account's persisted state."""
    from engine.store import upsert

    payload = bank.snapshots.get(name)
    if payload is None:
        return
    upsert(
        con,
        "forecast_state",
        pd.DataFrame({"account": [account], "model": [name], "as_of": [fit_day], "payload": [payload]}),
    )


def load_state(con: Any, account: str, name: str) -> tuple[dt.date, Forecaster, bytes] | None:
    """The latest persisted fit of `name`, if any: (as_of, model, snapshot bytes)."""
    rows = con.execute(
        "SELECT as_of, payload FROM forecast_state WHERE account = ? AND model = ?", [account, name]
    ).fetchall()
    if not rows or rows[0][1] is None:
        return None
    payload = bytes(rows[0][1])
    try:
        model = pickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 - a stale/corrupt pickle just means "refit"
        log.warning("stored state of %s unreadable (%s); refitting", name, exc)
        return None
    if getattr(model, "state_version_", None) != type(model).state_version:
        log.warning("stored state of %s was written by another version of pmax; refitting", name)
        return None
    return rows[0][0], model, payload
