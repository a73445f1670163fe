"""Feeds decide which session the next cycle processes and deliver its bars.

`ReplayFeed` walks a history file one trading session per cycle; history before the
replay start arrives as warm-up in the first cycle. `engine.data.live.LiveFeed`
follows the real exchange calendar with the same interface.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.config import REPO_ROOT
from engine.cycle import BAR_COLUMNS
from engine.errors import InputError

SAMPLE_PATH = REPO_ROOT / "data" / "watchlist_sample.parquet"


@dataclass(frozen=True)
class FeedBatch:
    """The bars for one cycle."""

    session: dt.date
    session_index: int
    bars: pd.DataFrame
    warmup: bool
    source: str
    stale: bool = False


class Feed(ABC):
    """Where cycles come from."""

    @abstractmethod
    def next_batch(self, after: dt.date | None) -> FeedBatch | None:
        """The batch for the first session after `after` (None: the first cycle), or None when done."""

    def describe(self) -> str:
        return type(self).__name__

    def upcoming(self, after: dt.date | None) -> list[dt.date] | None:
        """The sessions still to come after `after`, when known in advance (None: live)."""
        return None

    def universe(self) -> list[str] | None:
        """The tickers this feed delivers (recorded with each run), when known."""
        return None

    def close(self) -> None:
        """Stop any wait in progress (a live feed sleeping until the next close)."""

    # Universe changes while running (`engine.universe`); a feed that cannot change knows no new name.
    def check_new_tickers(self, tickers: Sequence[str]) -> list[str]:
        """Those of `tickers` this feed has no bars for (may fetch; raises DataUnavailableError)."""
        return list(tickers)

    def deliver(self, tickers: Sequence[str]) -> None:
        """Deliver bars for exactly these tickers from the next batch on."""

    def history_of(self, tickers: Sequence[str], before: dt.date) -> pd.DataFrame:
        """Bars of `tickers` dated before `before` (the backfill of names joining the universe)."""
        return pd.DataFrame(columns=BAR_COLUMNS)


def read_bars_file(path: str | Path) -> pd.DataFrame:
    """Read and check a Parquet or CSV bars file; InputError names what is wrong."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"data file {file} does not exist", "pass a Parquet or CSV file with --data")
    try:
        if file.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(file)
        elif file.suffix.lower() in (".csv", ".txt"):
            df = pd.read_csv(file)
        else:
            raise InputError(f"data file {file} is neither Parquet nor CSV", "use a .parquet or .csv file")
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow/pandas raise many types for unreadable files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"data file {file} cannot be read: {reason[:160]}") from None
    return normalise_bars(df, str(file))


def normalise_bars(df: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Check columns and types, return date/ticker/OHLCV sorted by ticker, date."""
    df = df.rename(columns={c: c.strip().lower() for c in df.columns if isinstance(c, str)})
    missing = [c for c in BAR_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"data file {origin} lacks column(s) {', '.join(missing)}",
            "it needs date, ticker, open, high, low, close, volume",
        )
    out = df[BAR_COLUMNS].copy()
    _check_blank_keys(out, origin)
    try:
        out["date"] = pd.to_datetime(out["date"]).dt.date
    except (ValueError, TypeError):
        raise InputError(f"data file {origin}: column date holds values that are not dates") from None
    out["ticker"] = out["ticker"].astype(str).str.strip().str.upper()
    _check_tickers(out["ticker"], origin)
    _check_not_future(out["date"], origin)
    for col in ("open", "high", "low", "close"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    volume = pd.to_numeric(out["volume"], errors="coerce")
    out["volume"] = volume.fillna(0).round().astype("int64")
    if out.empty:
        raise InputError(f"data file {origin} holds no rows")
    if out["close"].isna().all():
        raise InputError(f"data file {origin}: column close holds no numbers")
    return out.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | values.astype(str).str.strip().eq("")


def _check_blank_keys(df: pd.DataFrame, origin: str) -> None:
    """A row without a date or a ticker cannot be placed: refuse the file, naming the row."""
    for col in ("date", "ticker"):
        blank = _blank(df[col]).to_numpy()
        if blank.any():
            rows = (blank.nonzero()[0] + 1).tolist()
            shown = ", ".join(map(str, rows[:5])) + (" …" if len(rows) > 5 else "")
            raise InputError(
                f"data file {origin}: {len(rows)} row(s) with a blank {col} (data row {shown})",
                "fill in or delete those rows; every row needs a date and a ticker",
            )


def _check_tickers(tickers: pd.Series, origin: str) -> None:
    from engine.config_rules import TICKER_PATTERN

    names = pd.Series(tickers.unique())
    bad = names[~names.str.match(TICKER_PATTERN.pattern)].tolist()
    if bad:
        shown = repr(bad[0][:24] + ("…" if len(bad[0]) > 24 else ""))
        raise InputError(
            f"data file {origin}: ticker {shown} is not a ticker"
            + (f" ({len(bad)} such names)" if len(bad) > 1 else ""),
            "tickers are 1-10 letters, digits, '.' or '-' (BRK.B, BF-B)",
        )


def _check_not_future(dates: pd.Series, origin: str) -> None:
    today = dt.date.today()
    future = dates[dates > today]
    if len(future):
        raise InputError(
            f"data file {origin}: {len(future)} row(s) dated after today (first {min(future)})",
            "remove rows with future dates; a bar exists only once its session has closed",
        )


def non_sessions(dates: Sequence[dt.date]) -> list[dt.date]:
    """The dates the NYSE calendar knows that were not trading sessions (weekends, holidays)."""
    from engine.data.calendar import calendar_bounds, session_positions

    lo, hi = calendar_bounds()
    known = [d for d in dates if lo <= d <= hi]
    if not known:
        return []
    _, on_session = session_positions(np.array(known, dtype="datetime64[D]"))
    return [d for d, ok in zip(known, on_session) if not ok]


class ReplayFeed(Feed):
    """Replays a history file one session per cycle, after a warm-up batch."""

    def __init__(
        self, path: str | Path | None = None, start: dt.date = dt.date(2016, 1, 4), tickers: Sequence[str] | None = None
    ) -> None:
        self.path = Path(path) if path else SAMPLE_PATH
        self.source = "sample" if self.path == SAMPLE_PATH else f"file:{self.path.name}"
        bars = self.file_bars = read_bars_file(self.path)
        self.file_tickers = frozenset(bars["ticker"].unique())
        if tickers:
            wanted = {t.upper() for t in tickers}
            bars = bars[bars["ticker"].isin(wanted)]
            if bars.empty:
                raise InputError(
                    f"none of the watchlist tickers ({', '.join(sorted(wanted))}) are in {self.path}",
                    "fix [data] watchlist or pass another --data file",
                )
        self.bars = bars.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
        self.calendar: list[dt.date] = sorted(self.bars["date"].unique())
        off = non_sessions(self.calendar)
        if off:  # a weekend or holiday row would become a session and shift every schedule
            raise InputError(
                f"data file {self.path}: {len(off)} date(s) are not NYSE sessions (first {off[0]}, a {off[0]:%A})",
                "remove those rows (`pmax data import` quarantines them instead of replaying them)",
            )
        self.start = start
        self._dates = np.array(self.bars["date"].values)
        if not any(d >= start for d in self.calendar):
            raise InputError(
                f"replay start {start} is after the last session in {self.path} ({self.calendar[-1]})",
                "set [replay] start to a date inside the data",
            )

    def describe(self) -> str:
        return f"replay of {self.path.name} from {self.start}"

    def check_new_tickers(self, tickers: Sequence[str]) -> list[str]:
        return [t for t in tickers if t not in self.file_tickers]

    def deliver(self, tickers: Sequence[str]) -> None:
        """Re-filter the file to `tickers`; the calendar (and so every session index) stays."""
        wanted = set(tickers) & self.file_tickers
        bars = self.file_bars[self.file_bars["ticker"].isin(wanted) & self.file_bars["date"].isin(self.calendar)]
        self.bars = bars.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
        self._dates = np.array(self.bars["date"].values)

    def history_of(self, tickers: Sequence[str], before: dt.date) -> pd.DataFrame:
        b = self.file_bars
        got = b[b["ticker"].isin(set(tickers)) & (b["date"] < before) & b["date"].isin(self.calendar)]
        return got.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)

    @property
    def tickers(self) -> list[str]:
        return sorted(self.bars["ticker"].unique())

    def universe(self) -> list[str]:
        return self.tickers

    def upcoming(self, after: dt.date | None) -> list[dt.date]:
        if after is None:
            return [d for d in self.calendar if d >= self.start]
        return [d for d in self.calendar if d > after]

    def next_batch(self, after: dt.date | None) -> FeedBatch | None:
        later = self.upcoming(after)
        if not later:
            return None
        session = later[0]
        warmup = after is None  # the first cycle also delivers the history before it
        mask = self._dates <= session if warmup else self._dates == session
        bars = self.bars.loc[mask].reset_index(drop=True)
        return FeedBatch(session, self.calendar.index(session), bars, warmup, self.source)
