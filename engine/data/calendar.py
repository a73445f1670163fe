"""The NYSE trading calendar (holidays, half days), behind a few small functions.

Backed by the `exchange_calendars` package (calendar "XNYS"), loaded once per
process and cached. Building it costs ~0.4 s of CPU per process, so the session
list is also kept on disk for the day ($XDG_CACHE_HOME/pmax, keyed by the package's
version and the date: the calendar's end moves with the date), and a replay never
builds the calendar itself. Dates in and out are `datetime.date`; `now` arguments
are timezone-aware datetimes (naive ones are taken as UTC).
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

CALENDAR_NAME = "XNYS"
_FIRST = "1990-01-02"


@lru_cache(maxsize=2)
def _calendar(name: str = CALENDAR_NAME):  # -> exchange_calendars.ExchangeCalendar
    import exchange_calendars as xc

    # Default bounds are "20 years back, 1 year ahead"; pin the start so old files work.
    return xc.get_calendar(name, start=_FIRST)


def _cached_sessions_path(name: str) -> Path | None:
    """Today's file for `name`'s sessions; None when the package's version is unknown."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("exchange_calendars")
    except PackageNotFoundError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pmax" / f"sessions-{name}-{_FIRST}-{release}-{dt.date.today().isoformat()}.npy"


@lru_cache(maxsize=2)
def session_array(name: str = CALENDAR_NAME) -> np.ndarray:
    """Every session the calendar knows, as sorted numpy datetime64[D]."""
    path = _cached_sessions_path(name)
    if path is not None:
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.dtype == np.dtype("datetime64[D]") and cached.ndim == 1 and len(cached):
                return cached
        except (OSError, ValueError, EOFError):
            pass  # absent, unreadable or torn: build it
    sessions = _calendar(name).sessions.values.astype("datetime64[D]")
    if path is not None:
        _keep(path, name, sessions)
    return sessions


def _keep(path: Path, name: str, sessions: np.ndarray) -> None:
    """Write today's file atomically and drop older days' files; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.stem}.{os.getpid()}.part")
        with part.open("wb") as fh:
            np.save(fh, sessions, allow_pickle=False)
        os.replace(part, path)
        for old in path.parent.glob(f"sessions-{name}-*.npy"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass


def _d64(day: dt.date | pd.Timestamp | str) -> np.datetime64:
    return np.datetime64(str(day)[:10], "D")


def _to_date(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").item()


def calendar_bounds() -> tuple[dt.date, dt.date]:
    """First and last session the calendar covers."""
    s = session_array()
    return _to_date(s[0]), _to_date(s[-1])


def is_session(day: dt.date) -> bool:
    """True when the exchange trades on `day` (full or half day)."""
    s = session_array()
    d = _d64(day)
    i = np.searchsorted(s, d)
    return bool(i < len(s) and s[i] == d)


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Sessions with start <= session <= end, oldest first."""
    s = session_array()
    lo = np.searchsorted(s, _d64(start), side="left")
    hi = np.searchsorted(s, _d64(end), side="right")
    return [_to_date(x) for x in s[lo:hi]]


def previous_session(day: dt.date) -> dt.date:
    """The last session strictly before `day`."""
    s = session_array()
    i = np.searchsorted(s, _d64(day), side="left") - 1
    if i < 0:
        raise ValueError(f"no session before {day} in the {CALENDAR_NAME} calendar")
    return _to_date(s[i])


def next_session(day: dt.date) -> dt.date:
    """The first session strictly after `day`."""
    s = session_array()
    i = np.searchsorted(s, _d64(day), side="right")
    if i >= len(s):
        raise ValueError(f"no session after {day} in the {CALENDAR_NAME} calendar")
    return _to_date(s[i])


def session_after(day: dt.date, n: int) -> dt.date:
    """The `n`-th session strictly after `day` (n >= 1): a forecast's target date.

    Past the calendar's last known session (about a year ahead) it counts weekdays,
    since holidays that far out are not known yet.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    s = session_array()
    i = int(np.searchsorted(s, _d64(day), side="right")) + n - 1
    if i < len(s):
        return _to_date(s[i])
    beyond = i - (len(s) - 1)
    return _to_date(np.busday_offset(s[-1], beyond, roll="forward"))


def is_half_day(day: dt.date) -> bool:
    """True for early-close sessions (e.g. the day after Thanksgiving)."""
    cal = _calendar()
    if not is_session(day):
        return False
    import pandas as pd

    return bool(pd.Timestamp(day) in cal.early_closes)


def session_close(day: dt.date) -> dt.datetime:
    """The session's closing time as an aware UTC datetime (13:00 ET on half days)."""
    import pandas as pd

    return _calendar().session_close(pd.Timestamp(day)).to_pydatetime()


def last_completed_session(now: dt.datetime, delay: dt.timedelta = dt.timedelta(0)) -> dt.date:
    """The latest session whose close (+ `delay` for vendors to publish) is at or before `now`."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    # The session on or before today (UTC date may run ahead of New York by a few hours).
    today = now.astimezone(dt.UTC).date()
    s = session_array()
    i = int(np.searchsorted(s, _d64(today), side="right")) - 1
    while i >= 0:
        day = _to_date(s[i])
        if session_close(day) + delay <= now:
            return day
        i -= 1
    raise ValueError(f"no completed session before {now.isoformat()}")


def session_positions(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised lookup: (position in the calendar, is-a-session) for datetime64[D] dates."""
    s = session_array()
    d = dates.astype("datetime64[D]")
    pos = np.searchsorted(s, d, side="left")
    clipped = np.minimum(pos, len(s) - 1)
    return pos, s[clipped] == d
