"""Daily bars and quotes from Yahoo Finance through `yfinance`.

Prices are **split- and dividend-adjusted** (`auto_adjust=True`: open, high, low and
close are scaled by Yahoo's adjusted-close ratio; volume is split-adjusted).
yfinance logs and prints its own errors and returns empty frames when offline;
this provider silences that and raises one `DataUnavailableError` instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from engine.data.providers.base import MarketDataProvider, Quote, empty_bars, network_reason, tidy_bars
from engine.errors import DataUnavailableError

ADJUSTMENT = "split- and dividend-adjusted (yfinance auto_adjust=True)"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())


class _ThreadQuiet(io.TextIOBase):
    """sys.stdout/stderr stand-in that swallows what marked threads print, and passes
    everything else through: yfinance runs in provider threads (engine.data.deadline),
    so a process-wide redirect would also hide the main thread's messages."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.sinks: dict[int, io.StringIO] = {}

    def write(self, text: str) -> int:
        sink = self.sinks.get(threading.get_ident())
        return (sink if sink is not None else self.real).write(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, …
        return getattr(self.real, name)


_QUIET_LOCK = threading.Lock()


def _quiet(stream_name: str) -> _ThreadQuiet:
    with _QUIET_LOCK:
        current = getattr(sys, stream_name)
        if not isinstance(current, _ThreadQuiet):
            current = _ThreadQuiet(current)
            setattr(sys, stream_name, current)
        return current


@contextlib.contextmanager
def quiet_yfinance() -> Iterator[_Capture]:
    """Swallow yfinance's log lines and this thread's prints; hand back what it logged."""
    logger = logging.getLogger("yfinance")
    handler = _Capture()
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.WARNING)
    sink = io.StringIO()
    me = threading.get_ident()
    streams = [_quiet("stdout"), _quiet("stderr")]
    for stream in streams:
        stream.sinks[me] = sink
    try:
        yield handler
    finally:
        for stream in streams:
            stream.sinks.pop(me, None)
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
        if sink.getvalue().strip():
            handler.messages.append(sink.getvalue().strip().splitlines()[-1])


def yahoo_symbol(ticker: str) -> str:
    """Share classes: BRK.B (ours) is BRK-B at Yahoo."""
    return ticker.upper().replace(".", "-")


class YFinanceProvider(MarketDataProvider):
    """yfinance daily bars; `session` is a curl_cffi (or requests) session, default a new one."""

    name = "yfinance"
    adjustment = ADJUSTMENT

    def __init__(self, timeout: float = 10.0, session: Any | None = None) -> None:
        self.timeout = timeout
        self._session = session

    def _get_session(self) -> Any:
        if self._session is None:
            from yfinance._http import new_session

            self._session = new_session()
        return self._session

    def _history(self, ticker: str, **kwargs: Any) -> tuple[pd.DataFrame, list[str]]:
        import yfinance as yf

        with quiet_yfinance() as log:
            try:
                hist = yf.Ticker(yahoo_symbol(ticker), session=self._get_session()).history(
                    interval="1d", auto_adjust=True, actions=False, timeout=self.timeout, **kwargs
                )
            except Exception as exc:  # noqa: BLE001 - yfinance raises many types (curl, JSON, rate limit)
                log.messages.append(f"{type(exc).__name__}: {exc}")
                hist = None
        return (hist if hist is not None else pd.DataFrame()), log.messages

    def bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        frames: list[pd.DataFrame] = []
        failures: dict[str, str] = {}
        for ticker in tickers:
            hist, messages = self._history(
                ticker, start=start.isoformat(), end=(end + dt.timedelta(days=1)).isoformat()
            )
            if hist.empty:
                text = " | ".join(messages)
                reason = network_reason(text)
                if reason:  # offline: do not pay one timeout per ticker
                    raise DataUnavailableError(f"yfinance: {reason}", "check the network connection")
                failures[ticker] = _short(text) or "no bars returned"
                continue
            frames.append(_from_history(hist, ticker))
        if not frames:
            detail = "; ".join(f"{t}: {r}" for t, r in list(failures.items())[:3])
            raise DataUnavailableError(f"yfinance returned no bars ({detail})")
        out = tidy_bars(pd.concat(frames, ignore_index=True))
        return out[(out["date"] >= start) & (out["date"] <= end)].reset_index(drop=True) if len(out) else empty_bars()

    def quote(self, ticker: str) -> Quote:
        hist, messages = self._history(ticker, period="5d")
        if hist.empty:
            text = " | ".join(messages)
            raise DataUnavailableError(f"yfinance: {network_reason(text) or _short(text) or 'no quote for ' + ticker}")
        closes = hist["Close"].dropna()
        if closes.empty:
            raise DataUnavailableError(f"yfinance: no quote for {ticker}")
        when = closes.index[-1].to_pydatetime()
        prev = float(closes.iloc[-2]) if len(closes) > 1 else None
        return Quote(ticker.upper(), float(closes.iloc[-1]), prev, when, self.name)


def _from_history(hist: pd.DataFrame, ticker: str) -> pd.DataFrame:
    idx = hist.index
    dates = idx.tz_localize(None) if getattr(idx, "tz", None) is not None else idx
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(dates).normalize(),
            "ticker": ticker.upper(),
            "open": hist["Open"].to_numpy(),
            "high": hist["High"].to_numpy(),
            "low": hist["Low"].to_numpy(),
            "close": hist["Close"].to_numpy(),
            "volume": hist["Volume"].to_numpy(),
        }
    )


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:160]
