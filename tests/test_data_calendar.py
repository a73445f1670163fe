"""The NYSE calendar wrapper: holidays, half days, completed sessions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.data import calendar as xcal


def test_holidays_and_counts() -> None:
    assert not xcal.is_session(dt.date(2017, 7, 4))  # Independence Day
    assert not xcal.is_session(dt.date(2018, 1, 15))  # MLK day
    assert not xcal.is_session(dt.date(2017, 1, 7))  # Saturday
    assert xcal.is_session(dt.date(2017, 7, 3))
    # The 505-ticker file has 1,259 sessions from 2013-02-08 to 2018-02-07.
    assert len(xcal.sessions_between(dt.date(2013, 2, 8), dt.date(2018, 2, 7))) == 1259
    assert xcal.previous_session(dt.date(2017, 7, 5)) == dt.date(2017, 7, 3)
    assert xcal.next_session(dt.date(2017, 7, 3)) == dt.date(2017, 7, 5)


def test_session_after_counts_exchange_sessions() -> None:
    # MLK day 2016-01-18 is skipped: 5 sessions after 2016-01-13 is the 21st, not the 20th.
    assert xcal.session_after(dt.date(2016, 1, 13), 5) == dt.date(2016, 1, 21)
    assert xcal.session_after(dt.date(2016, 1, 15), 1) == dt.date(2016, 1, 19)
    assert xcal.session_after(dt.date(2016, 1, 16), 1) == dt.date(2016, 1, 19)  # from a Saturday
    assert xcal.session_after(dt.date(2017, 11, 1), 21) == dt.date(2017, 12, 1)  # Thanksgiving skipped
    # Past the calendar's last known session it counts weekdays.
    last = xcal.calendar_bounds()[1]
    beyond = xcal.session_after(last, 5)
    assert beyond > last and beyond.weekday() < 5 and (beyond - last).days <= 9


def test_half_days_close_early() -> None:
    assert xcal.is_half_day(dt.date(2017, 11, 24))  # day after Thanksgiving
    assert not xcal.is_half_day(dt.date(2017, 11, 22))
    assert xcal.session_close(dt.date(2017, 11, 24)) == dt.datetime(2017, 11, 24, 18, 0, tzinfo=dt.UTC)
    assert xcal.session_close(dt.date(2017, 11, 22)) == dt.datetime(2017, 11, 22, 21, 0, tzinfo=dt.UTC)


def test_last_completed_session() -> None:
    delay = dt.timedelta(minutes=30)
    utc = dt.UTC
    # Friday 2017-11-24 is a half day: closes 13:00 ET (18:00 UTC).
    assert xcal.last_completed_session(dt.datetime(2017, 11, 24, 18, 29, tzinfo=utc), delay) == dt.date(2017, 11, 22)
    assert xcal.last_completed_session(dt.datetime(2017, 11, 24, 18, 30, tzinfo=utc), delay) == dt.date(2017, 11, 24)
    # Over a weekend and a holiday: Monday 2018-01-15 (MLK) morning -> Friday.
    assert xcal.last_completed_session(dt.datetime(2018, 1, 15, 15, 0, tzinfo=utc)) == dt.date(2018, 1, 12)
    # Just after midnight UTC the New York session of "yesterday" is the latest.
    assert xcal.last_completed_session(dt.datetime(2018, 1, 17, 1, 0, tzinfo=utc)) == dt.date(2018, 1, 16)


def test_the_session_list_kept_on_disk_is_the_calendars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that finds today's file uses it; it holds exactly the calendar's sessions."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    xcal.session_array.cache_clear()
    try:
        built = xcal.session_array()  # no file yet: built from exchange_calendars, then kept
        (kept,) = (tmp_path / "pmax").glob("sessions-XNYS-*.npy")
        assert dt.date.today().isoformat() in kept.name
        expected = xcal._calendar().sessions.values.astype("datetime64[D]")
        assert built.dtype == expected.dtype and (built == expected).all()
        xcal.session_array.cache_clear()
        again = xcal.session_array()  # read back from the file
        assert again.dtype == expected.dtype and len(again) == len(expected) and (again == expected).all()
        kept.write_bytes(b"torn")  # a damaged file is rebuilt, not trusted
        xcal.session_array.cache_clear()
        assert (xcal.session_array() == expected).all()
    finally:
        xcal.session_array.cache_clear()
