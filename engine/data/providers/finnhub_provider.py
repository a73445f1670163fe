"""Quotes, company news and (plan permitting) daily candles from Finnhub.

Uses the official `finnhub-python` client. The API key comes from
`FINNHUB_API_KEY` or the user config; it is never logged, stored or put in an
error message. Calls go through a sliding-window limiter (the free plan allows
60 calls/minute), time out, and retry with exponential backoff on 429/5xx and
connection drops (not on DNS failure: offline is reported at once).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from operator import methodcaller
from typing import Any

import pandas as pd

from engine.data.providers.base import NEWS_COLUMNS, MarketDataProvider, Quote, network_reason, scrub, tidy_bars
from engine.errors import DataUnavailableError

NY = "America/New_York"


class RateLimiter:
    """At most `calls` calls in any `period` seconds (sliding window); thread-safe."""

    def __init__(
        self,
        calls: int = 60,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.calls, self.period = calls, period
        self.clock, self.sleep = clock, sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a call is allowed; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                while self._stamps and now - self._stamps[0] >= self.period:
                    self._stamps.popleft()
                if len(self._stamps) < self.calls:
                    self._stamps.append(now)
                    return waited
                pause = self.period - (now - self._stamps[0])
                self.sleep(pause)
                waited += pause


class FinnhubProvider(MarketDataProvider):
    """Finnhub through finnhub.Client; `base_url` points the client elsewhere (tests, proxies)."""

    name = "finnhub"

    def __init__(
        self,
        api_key: str = "",
        timeout: float = 10.0,
        retries: int = 2,
        backoff_s: float = 1.0,
        calls_per_minute: int = 60,
        base_url: str | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._key = api_key
        self.timeout, self.retries, self.backoff_s = timeout, retries, backoff_s
        self.base_url = base_url
        self.limiter = limiter or RateLimiter(calls_per_minute, 60.0)
        self._sleep = sleep
        self._client: Any = None

    def __repr__(self) -> str:  # never show the key
        return f"FinnhubProvider(key={'set' if self._key else 'missing'})"

    def _get_client(self) -> Any:
        if not self._key:
            raise DataUnavailableError(
                "finnhub: no API key", "set FINNHUB_API_KEY or [data] finnhub_api_key in your config file"
            )
        if self._client is None:
            import finnhub

            client = finnhub.Client(api_key=self._key)
            client.DEFAULT_TIMEOUT = self.timeout
            if self.base_url:
                client.API_URL = self.base_url.rstrip("/")
            self._client = client
        return self._client

    def _call(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """One API call with limiter, timeout and retries; errors become DataUnavailableError."""
        import finnhub
        import requests

        client = self._get_client()
        last = ""
        for attempt in range(self.retries + 1):
            self.limiter.acquire()
            try:
                return fn(client)
            except finnhub.FinnhubAPIException as exc:
                status = int(getattr(exc, "status_code", 0) or 0)
                message = scrub(str(getattr(exc, "message", "")), self._key)
                if status in (401, 403):
                    hint = "your Finnhub plan does not include this data" if status == 403 else "check FINNHUB_API_KEY"
                    raise DataUnavailableError(f"finnhub: {what} refused (HTTP {status}: {message})", hint) from None
                last = f"HTTP {status}: {message}"
                if status != 429 and status < 500:
                    break
            except (requests.ConnectionError, requests.Timeout) as exc:
                text = scrub(str(exc), self._key)
                reason = network_reason(text) or "connection failed"
                if "DNS" in reason:
                    raise DataUnavailableError(f"finnhub: {reason}", "check the network connection") from None
                last = reason
            except (finnhub.FinnhubRequestException, ValueError) as exc:
                last = scrub(str(exc), self._key)[:160]
                break
            if attempt < self.retries:
                self._sleep(self.backoff_s * (2**attempt))
        raise DataUnavailableError(f"finnhub: {what} failed ({last})")

    def quote(self, ticker: str) -> Quote:
        data = self._call(f"quote {ticker}", lambda c: c.quote(ticker.upper()))
        price = float(data.get("c") or 0.0)
        if price <= 0:
            raise DataUnavailableError(f"finnhub: no quote for {ticker}")
        stamp = data.get("t")
        when = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC) if stamp else None
        prev = float(data["pc"]) if data.get("pc") else None
        return Quote(ticker.upper(), price, prev, when, self.name)

    def bars(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        t0 = int(dt.datetime.combine(start, dt.time(0), tzinfo=dt.UTC).timestamp())
        t1 = int(dt.datetime.combine(end, dt.time(23, 59), tzinfo=dt.UTC).timestamp())
        frames = []
        for ticker in tickers:
            data = self._call(f"candles for {ticker}", methodcaller("stock_candles", ticker.upper(), "D", t0, t1))
            if not isinstance(data, dict) or data.get("s") != "ok" or not data.get("t"):
                continue  # "no_data": nothing for this ticker
            stamps = pd.to_datetime(pd.Series(data["t"], dtype="int64"), unit="s", utc=True)
            frames.append(
                pd.DataFrame(
                    {
                        "date": stamps.dt.tz_convert(NY).dt.date,
                        "ticker": ticker.upper(),
                        "open": data["o"],
                        "high": data["h"],
                        "low": data["l"],
                        "close": data["c"],
                        "volume": data["v"],
                    }
                )
            )
        if not frames:
            raise DataUnavailableError(f"finnhub: no candles for {', '.join(tickers[:5])}")
        out = tidy_bars(pd.concat(frames, ignore_index=True))
        return out[(out["date"] >= start) & (out["date"] <= end)].reset_index(drop=True)

    def news(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        items = self._call(
            f"news for {ticker}", lambda c: c.company_news(ticker.upper(), _from=start.isoformat(), to=end.isoformat())
        )
        rows = [
            {
                "ticker": ticker.upper(),
                "time": dt.datetime.fromtimestamp(int(i.get("datetime", 0)), tz=dt.UTC),
                "headline": str(i.get("headline", "")),
                "source": str(i.get("source", "")),
                "url": str(i.get("url", "")),
                "summary": str(i.get("summary", "")),
            }
            for i in (items or [])
        ]
        return pd.DataFrame(rows, columns=NEWS_COLUMNS)
