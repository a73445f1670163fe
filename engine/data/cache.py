"""The store as the market-data cache: failover fetch, gated bulk writes, file import.

`fetch_with_failover` asks providers in priority order, passing the tickers one
could not serve to the next. `write_gated` stores a `GateResult` (bars with their
source, issues, late quarantines) in bulk through Arrow; `import_file` runs a whole
Parquet/CSV file through the gate into `bars`, but never gives a replay database bars
after its current session or tickers outside its universe.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from engine.data.deadline import Deadline, NoAnswer, call_with_deadline
from engine.data.providers.base import BAR_COLUMNS, MarketDataProvider, empty_bars
from engine.data.quality import GateResult, QualityGate, summarise
from engine.errors import DataUnavailableError, InputError, name_some

if TYPE_CHECKING:
    import duckdb

    from engine.data.providers.local import LocalFileProvider
    from engine.store import Store

log = logging.getLogger("pmax.data")

STORE_COLUMNS = [*BAR_COLUMNS, "source", "quarantined", "stale"]


@dataclass
class FetchResult:
    """Bars gathered across providers, with what failed on the way."""

    bars: pd.DataFrame  # BAR_COLUMNS + source
    errors: list[str] = field(default_factory=list)  # one line per provider failure
    missing: list[str] = field(default_factory=list)  # tickers no provider served

    @property
    def sources(self) -> list[str]:
        return sorted(self.bars["source"].unique()) if len(self.bars) else []


def provider_source(provider: MarketDataProvider) -> str:
    return str(getattr(provider, "source", provider.name))


def fetch_with_failover(
    providers: Sequence[MarketDataProvider],
    tickers: Sequence[str],
    start: dt.date,
    end: dt.date,
    deadline: Deadline | None = None,
    notice: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> FetchResult:
    """Ask each provider for the tickers still missing; a failure or empty answer falls through.

    Each call has a hard deadline (`deadline.attempt_s`); a provider that does not answer
    in time is tried again in the next round (up to `deadline.retries` more), while the
    whole fetch never takes longer than `deadline.total_s`. `notice` hears every wait;
    setting `stop` (shutdown) ends the fetch at once with what it has.
    """
    deadline = deadline or Deadline()
    tell = notice or (lambda line: log.warning(line))
    remaining = [t.upper() for t in tickers]
    frames: list[pd.DataFrame] = []
    errors: list[str] = []
    waiting = list(providers)  # providers still worth asking (not yet answered or failed)
    for attempt in range(deadline.retries + 1):
        silent: list[MarketDataProvider] = []
        for provider in waiting:
            if not remaining:
                break
            limit = min(deadline.attempt_s, deadline.left())
            if limit <= 0 or (stop is not None and stop.is_set()):
                silent.append(provider)
                continue
            try:
                got = call_with_deadline(provider.bars, limit, remaining, start, end, stop=stop)
            except NoAnswer:
                if stop is not None and stop.is_set():
                    silent.append(provider)
                    continue
                again = (
                    f", retrying {attempt + 1}/{deadline.retries}"
                    if attempt < deadline.retries and deadline.left() > 0
                    else ", giving up"
                )
                tell(
                    f"{provider.name}: no answer after {_seconds(limit)} s (bars for {len(remaining)} "
                    f"ticker(s) up to {end}){again}"
                )
                silent.append(provider)
                continue
            except DataUnavailableError as exc:
                errors.append(exc.message)
                continue
            if got.empty:
                errors.append(f"{provider.name}: no bars for {', '.join(remaining[:5])}")
                continue
            got = got.assign(source=provider_source(provider))
            frames.append(got)
            served = set(got["ticker"].unique())
            remaining = [t for t in remaining if t not in served]
        waiting = silent
        if not waiting or not remaining or deadline.left() <= 0 or (stop is not None and stop.is_set()):
            break
    for provider in waiting:
        errors.append(
            f"{provider.name}: no answer within {_seconds(deadline.total_s)} s "
            f"({deadline.retries + 1} tries of {_seconds(deadline.attempt_s)} s)"
        )
    bars = pd.concat(frames, ignore_index=True) if frames else empty_bars().assign(source=pd.Series(dtype="object"))
    return FetchResult(bars, errors, remaining)


def cached_bars(
    con: duckdb.DuckDBPyConnection,
    tickers: Sequence[str] | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Stored bars (quarantined ones included, with their flags), sorted by ticker, date."""
    where: list[str] = ["TRUE"]
    params: list[object] = []
    if tickers:
        where.append("list_contains(?, ticker)")
        params.append([t.upper() for t in tickers])
    if start is not None:
        where.append("date >= ?")
        params.append(start)
    if end is not None:
        where.append("date <= ?")
        params.append(end)
    sql = f"SELECT {', '.join(STORE_COLUMNS)} FROM bars WHERE {' AND '.join(where)} ORDER BY ticker, date"
    df = con.execute(sql, params).df()
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df


def gate_history(
    con: duckdb.DuckDBPyConnection, tickers: Sequence[str], before: dt.date, sessions: int
) -> pd.DataFrame:
    """Each ticker's last `sessions` non-quarantined stored bars dated before `before`."""
    sql = (
        "SELECT date, ticker, open, high, low, close, volume FROM ("
        " SELECT *, row_number() OVER (PARTITION BY ticker ORDER BY date DESC) AS rn FROM bars"
        " WHERE date < ? AND NOT quarantined AND list_contains(?, ticker)) WHERE rn <= ? ORDER BY ticker, date"
    )
    df = con.execute(sql, [before, [t.upper() for t in tickers], int(sessions)]).df()
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df


def write_gated(
    con: duckdb.DuckDBPyConnection, result: GateResult, source: str | pd.Series, found_session: dt.date | None = None
) -> int:
    """Store gated bars (replacing same ticker/date), their issues and late quarantines."""
    bars = result.bars
    if bars.empty:
        return 0
    out = pd.DataFrame(
        {
            "ticker": bars["ticker"].astype(str).to_numpy(),
            "date": pd.to_datetime(bars["date"]).to_numpy(),
            **{c: bars[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close")},
            "volume": bars["volume"].to_numpy(dtype="int64"),
            "source": (source.to_numpy() if isinstance(source, pd.Series) else source),
            "quarantined": bars["quarantined"].to_numpy(dtype=bool),
            "stale": bars["stale"].to_numpy(dtype=bool),
        }
    )
    # DataFrames are read by DuckDB's replacement scan of these locals (no register():
    # DuckDB 2 refuses it while an earlier result on `con` is unfinished).
    _pmax_gated = out
    con.execute(
        "DELETE FROM bars USING _pmax_gated g WHERE bars.ticker = g.ticker AND bars.date = CAST(g.date AS DATE)"
    )
    con.execute("INSERT INTO bars BY NAME SELECT * REPLACE (CAST(date AS DATE) AS date) FROM _pmax_gated")
    if not result.issues.empty:
        issues = result.issues.assign(found_session=found_session)
        issues["date"] = pd.to_datetime(issues["date"])
        _pmax_issues = issues
        # Idempotent: the same finding for the same bar replaces, never doubles, an earlier one.
        con.execute(
            "DELETE FROM quality_issues USING _pmax_issues i WHERE quality_issues.ticker = i.ticker "
            "AND quality_issues.date = CAST(i.date AS DATE) AND quality_issues.rule = i.rule "
            "AND quality_issues.action = i.action"
        )
        con.execute(
            "INSERT INTO quality_issues BY NAME SELECT * REPLACE (CAST(date AS DATE) AS date, "
            "CAST(found_session AS DATE) AS found_session) FROM _pmax_issues"
        )
    if not result.requarantine.empty:
        req = result.requarantine.assign(date=pd.to_datetime(result.requarantine["date"]))
        _pmax_req = req
        con.execute(
            "UPDATE bars SET quarantined = TRUE FROM _pmax_req r "
            "WHERE bars.ticker = r.ticker AND bars.date = CAST(r.date AS DATE)"
        )
    return len(out)


@dataclass
class ImportSummary:
    path: str
    rows: int
    tickers: int
    first: dt.date | None
    last: dt.date | None
    quarantined: int
    issues: dict[str, dict[str, int]]
    read_s: float
    gate_s: float
    write_s: float

    @property
    def total_s(self) -> float:
        return self.read_s + self.gate_s + self.write_s


def replay_state(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, set[str]] | None:
    """(current session, universe) when the database holds a replay, else None."""
    replay = "(r.data_source LIKE 'replay%' OR (r.data_source IS NULL AND r.mode <> 'live'))"
    rows = con.execute(f"SELECT max(c.session) FROM cycles c JOIN runs r USING (run_id) WHERE {replay}").fetchall()
    if not rows or rows[0][0] is None:
        return None
    names = con.execute(f"SELECT DISTINCT universe FROM runs r WHERE {replay} AND universe IS NOT NULL").fetchall()
    universe = {t for (text,) in names for t in text.split(",") if t}
    if not universe:  # a database from before runs recorded their universe
        universe = {t for (t,) in con.execute("SELECT DISTINCT ticker FROM bars").fetchall()}
    return rows[0][0], universe


def check_replay_import(con: duckdb.DuckDBPyConnection, db: str, bars: pd.DataFrame) -> None:
    """A replay database never receives its future, nor names its replay does not trade."""
    state = replay_state(con)
    if state is None or bars.empty:
        return
    session, universe = state
    future = bars[bars["date"] > session]
    if len(future):
        raise InputError(
            f"database {db} is a replay at {session}; this file holds {len(future):,} bars after it "
            f"(up to {max(future['date'])}), which the replay must not see yet",
            f"import only the past with --until {session}, replay the file with `pmax --run --data FILE`, "
            "or import into another --db",
        )
    extra = sorted(set(bars["ticker"].unique()) - universe)
    if extra:
        shown = name_some(extra, 6)
        raise InputError(
            f"database {db} replays {len(universe)} tickers; this file adds {len(extra)} it does not trade ({shown})",
            "restrict the import with --tickers, or change the universe on another --db "
            "(`pmax --run --data FILE`); it changes only when you say so",
        )


def import_file(
    store: Store,
    path: str | Path | LocalFileProvider,
    gate: QualityGate | None = None,
    tickers: Sequence[str] | None = None,
    until: dt.date | None = None,
) -> ImportSummary:
    """Read a bars file, pass it through the gate (with stored history as context), store it.

    Raises:
        InputError: the file is unusable, or it would give a replay database bars after
            its current session or tickers outside its universe (nothing is written).
    """
    from engine.data.providers.local import LocalFileProvider

    t0 = time.perf_counter()
    provider = path if isinstance(path, LocalFileProvider) else LocalFileProvider(path)
    bars = provider.frame()
    if tickers:
        bars = bars[bars["ticker"].isin({t.upper() for t in tickers})].reset_index(drop=True)
    if until is not None:
        bars = bars[bars["date"] <= until].reset_index(drop=True)
    check_replay_import(store.con, store.path, bars)
    t1 = time.perf_counter()
    gate = gate or QualityGate()
    first = min(bars["date"]) if len(bars) else None
    history = None
    if first is not None and store.con.execute("SELECT count(*) FROM bars").fetchall()[0][0]:
        history = gate_history(store.con, sorted(bars["ticker"].unique()), first, gate.history_sessions)
    result = gate.check(bars, history)
    t2 = time.perf_counter()
    with store.transaction() as con:
        write_gated(con, result, provider.source)
    t3 = time.perf_counter()
    return ImportSummary(
        path=str(provider.path),
        rows=len(result.bars),
        tickers=int(bars["ticker"].nunique()),
        first=first,
        last=max(bars["date"]) if len(bars) else None,
        quarantined=result.n_quarantined,
        issues=summarise(result.issues),
        read_s=t1 - t0,
        gate_s=t2 - t1,
        write_s=t3 - t2,
    )


def _seconds(value: float) -> str:
    """Seconds as a user set them: 10.0 -> "10", 0.5 -> "0.5" (not rounded to "0")."""
    return f"{round(value, 1):g}"
