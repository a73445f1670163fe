"""Providers against recorded responses served by a local HTTP server on 127.0.0.1.

The real yfinance and finnhub-python clients run unchanged; only the host they talk
to is rewritten (a curl_cffi session for yfinance, `base_url` for Finnhub). Offline
behaviour is tested for real: this machine has no network.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from engine.data.cache import fetch_with_failover
from engine.data.providers.base import MarketDataProvider, Quote
from engine.data.providers.finnhub_provider import FinnhubProvider, RateLimiter
from engine.data.providers.local import LocalFileProvider
from engine.data.providers.yahoo import YFinanceProvider
from engine.errors import DataUnavailableError

FIX = Path(__file__).parent / "fixtures" / "data"
KEY = "sk_test_SECRET123"


class Replay:
    """Routes: path prefix -> (status, fixture file or text). Records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str]] = {}
        self.seen: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's API name
                replay.seen.append(self.path)
                path = urlsplit(self.path).path.replace("//", "/")  # finnhub joins API_URL + '/quote'
                match = max((p for p in replay.routes if path.startswith(p)), key=len, default=None)
                status, body = replay.routes.get(match or "", (404, '{"error": "not recorded"}'))
                data = (FIX / body).read_bytes() if body.endswith(".json") else body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body.endswith(".json") else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()  # quick shutdown


@pytest.fixture
def replay() -> Iterator[Replay]:
    r = Replay()
    yield r
    r.server.shutdown()


def yahoo_session(base: str):
    """A curl_cffi session that sends https://<host>/<path> to the replay server."""
    from curl_cffi import requests as creq

    class ReplaySession(creq.Session):
        def request(self, method, url, *args, **kwargs):
            parts = urlsplit(url)
            local = f"{base}/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
            return super().request(method, local, *args, **kwargs)

    return ReplaySession()


@pytest.fixture
def yf_isolated(tmp_path: Path) -> Iterator[None]:
    """yfinance keeps a process-wide cookie/tz cache and an lru cache of responses."""
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path / "yf"))
    YfData.cache_get.cache_clear()
    data = YfData()
    data._crumb = data._cookie = None
    yield
    YfData.cache_get.cache_clear()


def test_yfinance_bars_from_recorded_chart(replay: Replay, yf_isolated: None) -> None:
    replay.routes = {
        "/fc.yahoo.com": (200, "ok"),
        "/query1.finance.yahoo.com/v1/test/getcrumb": (200, "crumbABC"),
        "/query2.finance.yahoo.com/v8/finance/chart/AAPL": (200, "yahoo_chart_AAPL.json"),
    }
    p = YFinanceProvider(session=yahoo_session(replay.base))
    bars = p.bars(["AAPL"], dt.date(2024, 1, 3), dt.date(2024, 1, 9))
    assert list(bars["date"]) == [dt.date(2024, 1, d) for d in (3, 4, 5, 8, 9)]
    raw = json.loads((FIX / "yahoo_chart_AAPL.json").read_text())["chart"]["result"][0]["indicators"]
    # auto_adjust: OHLC scaled by adjclose/close (split- and dividend-adjusted).
    ratio = raw["adjclose"][0]["adjclose"][1] / raw["quote"][0]["close"][1]
    assert bars["close"].iloc[0] == pytest.approx(raw["quote"][0]["close"][1] * ratio, rel=1e-6)
    assert bars["open"].iloc[0] == pytest.approx(raw["quote"][0]["open"][1] * ratio, rel=1e-6)
    assert bars["volume"].iloc[0] == raw["quote"][0]["volume"][1]
    assert any("/v8/finance/chart/AAPL" in s for s in replay.seen)
    assert "split- and dividend-adjusted" in p.adjustment


def test_yfinance_unknown_symbol_is_one_clean_error(replay: Replay, yf_isolated: None, capsys) -> None:
    replay.routes = {
        "/fc.yahoo.com": (200, "ok"),
        "/query1.finance.yahoo.com/v1/test/getcrumb": (200, "crumbABC"),
        "/query2.finance.yahoo.com/v8/finance/chart/": (404, "yahoo_chart_notfound.json"),
    }
    p = YFinanceProvider(session=yahoo_session(replay.base))
    with pytest.raises(DataUnavailableError) as err:
        p.bars(["ZZZZ"], dt.date(2024, 1, 3), dt.date(2024, 1, 9))
    assert err.value.message.startswith("yfinance")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # yfinance's own prints are silenced


def test_yfinance_offline_for_real(yf_isolated: None, capsys) -> None:
    p = YFinanceProvider(timeout=5)
    with pytest.raises(DataUnavailableError) as err:
        p.bars(["AAPL", "MSFT"], dt.date(2024, 1, 3), dt.date(2024, 1, 9))
    assert "yfinance" in err.value.message and "network" in err.value.message
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def finnhub(replay: Replay, **kw) -> FinnhubProvider:
    return FinnhubProvider(api_key=KEY, base_url=f"{replay.base}/api/v1", sleep=lambda s: None, **kw)


def test_finnhub_quote_news_candles(replay: Replay) -> None:
    replay.routes = {
        "/api/v1/quote": (200, "finnhub_quote_AAPL.json"),
        "/api/v1/company-news": (200, "finnhub_news_AAPL.json"),
        "/api/v1/stock/candle": (200, "finnhub_candle_MSFT.json"),
    }
    p = finnhub(replay)
    q = p.quote("AAPL")
    assert q.price == 186.19 and q.prev_close == 185.14 and q.source == "finnhub"
    assert q.change_pct == pytest.approx(186.19 / 185.14 - 1)
    news = p.news("AAPL", dt.date(2024, 1, 9), dt.date(2024, 1, 10))
    assert len(news) == 2 and news["headline"].iloc[0].startswith("Apple shares rise")
    bars = p.bars(["MSFT"], dt.date(2024, 1, 2), dt.date(2024, 1, 10))
    assert list(bars["date"])[:2] == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)] and len(bars) == 7
    assert all(f"token={KEY}" in s for s in replay.seen)  # the client sends the key ...
    assert "SECRET" not in repr(p)  # ... but it never shows up in our objects


def test_finnhub_plan_refusal_and_key_never_in_message(replay: Replay) -> None:
    replay.routes = {"/api/v1/stock/candle": (403, "finnhub_candle_403.json")}
    with pytest.raises(DataUnavailableError) as err:
        finnhub(replay).bars(["AAPL"], dt.date(2024, 1, 2), dt.date(2024, 1, 10))
    assert "403" in err.value.message and KEY not in err.value.message
    assert "plan" in (err.value.hint or "")


def test_finnhub_retries_429_with_backoff(replay: Replay) -> None:
    replay.routes = {"/api/v1/quote": (429, "finnhub_429.json")}
    sleeps: list[float] = []
    p = FinnhubProvider(api_key=KEY, base_url=f"{replay.base}/api/v1", retries=2, backoff_s=0.5, sleep=sleeps.append)
    with pytest.raises(DataUnavailableError) as err:
        p.quote("AAPL")
    assert len(replay.seen) == 3 and sleeps == [0.5, 1.0]
    assert "429" in err.value.message and KEY not in err.value.message


def test_finnhub_without_key_and_offline() -> None:
    with pytest.raises(DataUnavailableError, match="no API key"):
        FinnhubProvider(api_key="").quote("AAPL")
    p = FinnhubProvider(api_key=KEY, timeout=5, sleep=lambda s: None)
    with pytest.raises(DataUnavailableError) as err:
        p.quote("AAPL")
    assert "network" in err.value.message and KEY not in str(err.value)


def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    lim = RateLimiter(calls=3, period=60.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        assert lim.acquire() == 0.0
    now[0] = 10.0
    assert lim.acquire() == pytest.approx(50.0)  # waits until the first call leaves the window
    assert slept == [pytest.approx(50.0)]


class Failing(MarketDataProvider):
    name = "broken"

    def bars(self, tickers, start, end):
        raise DataUnavailableError("broken: network unreachable")

    def quote(self, ticker: str) -> Quote:
        raise DataUnavailableError("broken: network unreachable")


def test_failover_falls_through_and_tags_source() -> None:
    local = LocalFileProvider()
    res = fetch_with_failover([Failing(), local], ["AAPL", "MSFT", "NOPE"], dt.date(2017, 1, 3), dt.date(2017, 1, 6))
    assert res.errors == ["broken: network unreachable"] and res.missing == ["NOPE"]
    assert set(res.bars["ticker"]) == {"AAPL", "MSFT"} and set(res.bars["source"]) == {"sample"}
    assert len(res.bars) == 8
    empty = fetch_with_failover([Failing()], ["AAPL"], dt.date(2017, 1, 3), dt.date(2017, 1, 6))
    assert empty.bars.empty and empty.missing == ["AAPL"]


def test_local_provider_reads_sample() -> None:
    p = LocalFileProvider()
    bars = p.bars(["aapl"], dt.date(2013, 2, 8), dt.date(2013, 2, 12))
    assert list(bars["ticker"].unique()) == ["AAPL"] and len(bars) == 3
    assert isinstance(bars["date"].iloc[0], dt.date)
    q = p.quote("AAPL")
    assert q.time is not None and q.time.date() == dt.date(2018, 2, 7) and q.price > 0
    assert isinstance(pd.Timestamp(q.time), pd.Timestamp)
