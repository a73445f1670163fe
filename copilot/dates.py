"""Dates in questions, resolved against the store's own calendar.

"in February 2016", "Feb 2016", "in February" (the latest February the store
has), "on 2016-02-11", "February 11, 2016", "last week", "this week", "last
month", "yesterday", "today", "last 10 sessions", "in 2016", "from 2016-02-01 to
2016-02-12": each becomes a ``Period`` of stored sessions (first, last), snapped to
the sessions the equity table holds, so "February" means February's trading days
and a weekend date means the session before it. Pure functions of the question and
the session list; ``store_sessions`` reads that list.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store.connection import Queryable

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MON = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ISO = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_RANGE = re.compile(rf"(?:from|between)\s+{_ISO}\s+(?:to|and|until|through|-)\s+{_ISO}", re.I)
_DAY_ISO = re.compile(rf"\b{_ISO}\b")
_DAY_TEXT = re.compile(rf"\b{_MON}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_MONTH_YEAR = re.compile(rf"\b{_MON}\.?\s+(\d{{4}})\b", re.I)
_MONTH_ONLY = re.compile(rf"\b(?:in|during|for|over|since|of)\s+{_MON}\b", re.I)
_YEAR = re.compile(r"\b(?:in|during|for|over|of)\s+(20\d\d|19\d\d)\b", re.I)
_LAST_N = re.compile(r"\b(?:last|past)\s+(\d{1,3})\s+(sessions?|days?|trading days?|weeks?|months?)\b", re.I)
_RELATIVE = re.compile(
    r"\b(last|this|past|previous)\s+(week|month|year|session|quarter)\b|"
    r"\b(yesterday|today|year to date|ytd)\b",
    re.I,
)


@dataclass(frozen=True)
class Period:
    """Stored sessions ``first``..``last`` (inclusive) and how the question said it."""

    first: dt.date
    last: dt.date
    label: str

    @property
    def single_day(self) -> bool:
        return self.first == self.last

    def args(self) -> dict[str, str]:
        return {"start": self.first.isoformat(), "end": self.last.isoformat()}


def store_sessions(con: Queryable, account: str) -> list[dt.date]:
    """The account's marked sessions (the equity table), oldest first."""
    from copilot.tools.base import select

    _, rows = select(con, "SELECT as_of FROM equity WHERE account = ? ORDER BY as_of", [account])
    return [r[0] for r in rows]


def _month(word: str) -> int:
    return _MONTHS[word.lower()[:3]]


def _snap(sessions: Sequence[dt.date], first: dt.date, last: dt.date, label: str) -> Period | None:
    """The stored sessions inside [first, last]; None when there are none."""
    inside = [d for d in sessions if first <= d <= last]
    if not inside:
        return None
    return Period(inside[0], inside[-1], label)


def _day(sessions: Sequence[dt.date], day: dt.date, label: str) -> Period | None:
    """The session on ``day``, or the last one before it (a weekend means Friday)."""
    i = bisect_right(list(sessions), day)
    if i == 0 or (day - sessions[i - 1]).days > 4:
        return None
    d = sessions[i - 1]
    return Period(d, d, label if d == day else f"{label} (no session that day; {d} is the last before it)")


def resolve_period(question: str, sessions: Sequence[dt.date]) -> Period | None:
    """The period a question names, as stored sessions; None when it names none (or the
    store has no session in it, which callers report as not covered)."""
    if not sessions:
        return None
    latest = sessions[-1]
    m = _RANGE.search(question)
    if m:
        a = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        b = dt.date(int(m.group(4)), int(m.group(5)), int(m.group(6)))
        return _snap(sessions, min(a, b), max(a, b), f"{a} to {b}")
    m = _DAY_ISO.search(question)
    if m:
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        return _day(sessions, day, day.isoformat())
    m = _DAY_TEXT.search(question)
    if m:
        try:
            day = dt.date(int(m.group(3)), _month(m.group(1)), int(m.group(2)))
        except ValueError:
            return None
        return _day(sessions, day, day.isoformat())
    m = _MONTH_YEAR.search(question)
    if m:
        year, month = int(m.group(2)), _month(m.group(1))
        return _month_period(sessions, year, month)
    m = _MONTH_ONLY.search(question)
    if m:
        month = _month(m.group(1))
        for year in range(latest.year, sessions[0].year - 1, -1):
            found = _month_period(sessions, year, month)
            if found is not None:
                return found
        return None
    m = _LAST_N.search(question)
    if m:
        n, unit = int(m.group(1)), m.group(2).lower()
        if unit.startswith(("session", "day", "trading")):
            picked = list(sessions)[-n:]
            return Period(picked[0], picked[-1], f"the last {len(picked)} sessions")
        days = n * (7 if unit.startswith("week") else 31)
        return _snap(sessions, latest - dt.timedelta(days=days - 1), latest, m.group(0).lower())
    m = _RELATIVE.search(question)
    if m:
        return _relative(sessions, (m.group(1) or "").lower(), (m.group(2) or m.group(3)).lower())
    m = _YEAR.search(question)
    if m:
        year = int(m.group(1))
        return _snap(sessions, dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))
    return None


def _month_period(sessions: Sequence[dt.date], year: int, month: int) -> Period | None:
    last_day = calendar.monthrange(year, month)[1]
    label = f"{calendar.month_name[month]} {year}"
    return _snap(sessions, dt.date(year, month, 1), dt.date(year, month, last_day), label)


def _relative(sessions: Sequence[dt.date], which: str, unit: str) -> Period | None:
    latest = sessions[-1]
    if unit in ("today",) or (unit == "session" and which == "this"):
        return Period(latest, latest, f"the latest session ({latest})")
    if unit == "yesterday" or (unit == "session" and which in ("last", "previous", "past")):
        prev = sessions[-2] if len(sessions) > 1 else latest
        return Period(prev, prev, f"the session before the latest ({prev})")
    if unit in ("year to date", "ytd"):
        return _snap(sessions, dt.date(latest.year, 1, 1), latest, f"{latest.year} to date")
    if unit == "week":
        monday = latest - dt.timedelta(days=latest.weekday())
        if which == "this":
            return _snap(sessions, monday, latest, "this week")
        start = monday - dt.timedelta(days=7)
        return _snap(sessions, start, monday - dt.timedelta(days=1), f"last week (week of {start})")
    if unit == "month":
        if which == "this":
            return _month_period(sessions, latest.year, latest.month)
        y, mth = (latest.year, latest.month - 1) if latest.month > 1 else (latest.year - 1, 12)
        return _month_period(sessions, y, mth)
    if unit == "quarter":
        q0 = dt.date(latest.year, 3 * ((latest.month - 1) // 3) + 1, 1)
        if which == "this":
            return _snap(sessions, q0, latest, "this quarter")
        prev_end = q0 - dt.timedelta(days=1)
        prev_start = dt.date(prev_end.year, 3 * ((prev_end.month - 1) // 3) + 1, 1)
        return _snap(sessions, prev_start, prev_end, "last quarter")
    if unit == "year":
        year = latest.year if which == "this" else latest.year - 1
        return _snap(sessions, dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))
    return None


def mentions_date(question: str) -> bool:
    """True when the question names any date or period (resolved or not)."""
    return any(
        p.search(question) for p in (_RANGE, _DAY_ISO, _DAY_TEXT, _MONTH_YEAR, _MONTH_ONLY, _LAST_N, _RELATIVE, _YEAR)
    )
