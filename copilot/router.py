"""Deterministic intent router: question text → trade refusal, help, tool calls, or
"uncovered" (a date outside the store, or nothing a tool answers).

Dated questions ("in February 2016", "on 2016-02-11", "last week") resolve against
the store's sessions (``copilot.dates``) and go to P&L and history; "which model…
most accurate", "biggest risk", "what if I sold…" and multi-ticker comparisons have
their own tools.

Used by every backend (the offline one has nothing else; model backends get the
routed rows as context and may ask for more through function calling). Pure
functions of the question and the set of tickers the store knows, so the same
question always reaches the same tools.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from copilot.dates import Period, mentions_date, resolve_period

_TRADE = re.compile(
    r"^\s*(?:(?:please|pls|now|ok|okay|hey|copilot)[,\s]+)*"
    r"(?:(?:can|could|would|will)\s+you\s+|i\s+(?:want|need|would\s+like)\s+(?:you\s+)?to\s+|"
    r"go\s+ahead\s+and\s+|let'?s\s+|you\s+should\s+)?"
    r"(?:buy|sell|short|cover|purchase|place|submit|execute|cancel|modify|amend|liquidate|"
    r"close\s+(?:out|my|the|all|position)|open\s+a\s+position|go\s+long|go\s+short|trade|"
    r"rebalance|flatten|exit)\b",
    re.IGNORECASE,
)
_TRADE_ANYWHERE = re.compile(
    r"\b(?:buy|sell|short|purchase)\s+(?:me\s+)?\$?\d[\d,]*\s*(?:shares?|units?|lots?|\$|dollars?|"
    r"k\b|of\b)|\b(?:place|submit|send|execute|cancel)\s+(?:an?\s+|the\s+|my\s+)?"
    r"(?:market\s+|limit\s+)?orders?\b",
    re.IGNORECASE,
)
_HELP = re.compile(r"^\s*(help|\?|what can you do|how do i use you)\b", re.IGNORECASE)

# topic → (keywords, tool). Keywords are matched as word prefixes, case-insensitively.
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "latest_signal",
        (
            "signal",
            "recommend",
            "action",
            "why",
            "should",
            "verdict",
            "rating",
            "shap",
            "driver",
            "layer",
            "validated",
            "confiden",
        ),
    ),
    (
        "forecasts",
        (
            "forecast",
            "predict",
            "expect",
            "outlook",
            "interval",
            "probabilit",
            "prob",
            "p(up)",
            "target",
            "horizon",
            "upside",
            "downside",
        ),
    ),
    (
        "walk_forward",
        (
            "walk-forward",
            "walk forward",
            "walkforward",
            "backtest",
            "out-of-sample",
            "out of sample",
            "oos",
            "rmse",
            "accura",
            "hit rate",
            "coverage",
            "scored",
            "track record",
        ),
    ),
    ("model_weights", ("ensemble", "demot", "model weight", "weights of", "skill", "diebold", "which model", "models")),
    (
        "risk_snapshot",
        (
            "risk",
            "var",
            "cvar",
            "value at risk",
            "kill",
            "halt",
            "volatil",
            "vol",
            "beta",
            "drawdown",
            "exposure",
            "regime",
            "limit",
            "stress",
        ),
    ),
    ("positions", ("position", "holding", "hold", "own", "portfolio", "cash", "equity", "allocation", "book")),
    ("recent_fills", ("fill", "trade", "traded", "bought", "sold", "execut", "transaction")),
    ("rejections", ("reject", "cancel", "blocked", "denied", "refused", "failed order")),
    (
        "quality_issues",
        ("quality", "data issue", "quarantin", "missing", "stale", "gap", "outlier", "bad data", "anomal"),
    ),
    (
        "performance",
        (
            "perform",
            "return",
            "sharpe",
            "sortino",
            "calmar",
            "p&l",
            "pnl",
            "profit",
            "doing",
            "made",
            "lost",
            "lose",
            "losing",
            "loss",
            "gain",
            "earn",
        ),
    ),
)
_WHAT_IF = re.compile(
    r"\bwhat\s+if\b|\bhypothetic|\bif\s+(?:i|we)\s+(?:had\s+)?(?:sold|sell|close|closed|"
    r"cut|trim|trimmed|halve|halved|reduce|reduced|dropped|exit|exited|double|doubled)\b",
    re.IGNORECASE,
)
_HALF = re.compile(r"\bhal(?:f|ve|ved)\b", re.IGNORECASE)
_DOUBLE = re.compile(r"\bdoubl", re.IGNORECASE)
_RANKING = re.compile(
    r"\b(?:which|what|best|top|most)\b.*\bmodels?\b.*\b(?:accura|best|skill|good|"
    r"well|beat|perform|reliable|trust)|\bmost\s+accurate\b|\bbest\s+model\b|"
    r"\bmodel\s+ranking\b|\brank(?:ed|ing)?\s+(?:the\s+)?models\b",
    re.IGNORECASE,
)
_BIG_RISK = re.compile(
    r"\b(?:biggest|largest|main|top|greatest|major|worst)\s+(?:\w+\s+)?risks?\b|"
    r"\bstress|\bscenario|\brisk\s+(?:breakdown|contribut)|\bcontribut\w*\s+to\s+"
    r"(?:var|risk)|\blimit\s+(?:use|usage|utili)",
    re.IGNORECASE,
)
_COMPARE = re.compile(r"\bcompar|\bside\s+by\s+side|\bversus\b|\bvs\.?\b", re.IGNORECASE)
_HISTORY = re.compile(
    r"\bhappen|\bhistory\b|\bequity\s+curve|\bdrawdown|\bfills?\b|\btrades?\b|"
    r"\bsignals?\b|\bwhat\s+did\b",
    re.IGNORECASE,
)

TICKER_TOOLS = {
    "latest_signal",
    "forecasts",
    "walk_forward",
    "positions",
    "recent_fills",
    "rejections",
    "quality_issues",
}
_NOT_TICKER_WORDS = (
    "A I AN AND OR THE VAR CVAR SHAP RMSE OOS PNL ETF US USD AI LLM DM PSR DSR MC ML OK IS IT TO OF IN ON "
    "MY ME WHY HOW WHAT BUY SELL HOLD ARIMA GARCH SSA GPU CPU API TUI CEO EPS PE YTD"
)
_NOT_TICKERS = set(_NOT_TICKER_WORDS.split())
# Tickers that are also everyday words: matched only when written in capitals.
_LOWER_WORD_TICKERS = (
    "FAST WELL LIFE LOVE PLAN MOST GOOD BEST REAL OPEN HOLD CASH SAFE BALL CARS PAYX EDIT KEYS NICE HAS"
)
_LOWER_WORDS = set(_LOWER_WORD_TICKERS.split())
_TOKEN = re.compile(r"\$?\b([A-Za-z]{1,5}(?:[.\-][A-Za-z])?)\b")
MAX_CALLS = 6


@dataclass(frozen=True)
class Route:
    """The router's decision: ``kind`` is ``trade``, ``help`` or ``tools``."""

    kind: str
    tickers: tuple[str, ...] = ()
    calls: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()
    period: Period | None = None
    note: str = ""

    def call_list(self) -> list[tuple[str, dict[str, object]]]:
        return [(name, dict(args)) for name, args in self.calls]


def is_trade_request(question: str) -> bool:
    """True when the user asks the copilot to place, change or cancel an order."""
    return bool(_TRADE.search(question) or _TRADE_ANYWHERE.search(question))


def find_tickers(question: str, known: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Tickers named in the question, in order: known ones in any case, ``$X``, or
    upper-case words that are not common acronyms when the store knows no tickers."""
    out: list[str] = []
    for m in _TOKEN.finditer(question):
        raw = m.group(1)
        word = raw.upper().replace("-", ".")
        if word in out:
            continue
        if m.group(0).startswith("$"):
            out.append(word)
        elif word in _NOT_TICKERS or (word in _LOWER_WORDS and not raw.isupper()):
            continue
        elif word in known and (raw.isupper() or len(word) >= 4):
            out.append(word)  # "AAPL", "aapl"; short ones ("HD", "KO") only in capitals
        elif not known and raw.isupper() and len(raw) >= 2:
            out.append(word)
    return tuple(out)


def topics_of(question: str) -> list[str]:
    """Tools whose keywords occur in the question (each once, in TOPICS order)."""
    text = question.lower()
    found = []
    for tool, words in TOPICS:
        for w in words:
            if re.search(r"(?<![a-z])" + re.escape(w), text):
                found.append(tool)
                break
    return found


Call = tuple[str, tuple[tuple[str, object], ...]]


def _special_calls(question: str, tickers: tuple[str, ...], topics: list[str], period: Period | None) -> list[Call]:
    """Questions with a dedicated tool: periods, model ranking, biggest risk, comparisons."""
    calls: list[Call] = []
    if period is not None:
        span = (("start", period.first.isoformat()), ("end", period.last.isoformat()))
        if not tickers or "performance" in topics or period.single_day:
            calls.append(("pnl_period", span))
        if period.single_day or _HISTORY.search(question) or tickers:
            for tk in tickers[:3] or (None,):
                calls.append(("history", span + ((("ticker", tk),) if tk else ())))
        return calls
    if _RANKING.search(question) or (
        "walk_forward" in topics and re.search(r"\bwhich\b|\bbest\b|\bmost\b", question, re.IGNORECASE)
    ):
        for tk in tickers[:3] or (None,):
            calls.append(("model_ranking", (("ticker", tk),) if tk else ()))
        return calls
    if _BIG_RISK.search(question):
        return [("risk_breakdown", ())]
    if len(tickers) >= 2 and (_COMPARE.search(question) or set(topics) <= {"forecasts"}):
        return [("forecast_compare", (("tickers", tickers[:12]),))]
    return calls


def route(
    question: str, known_tickers: set[str] | frozenset[str] = frozenset(), sessions: Sequence[dt.date] = ()
) -> Route:
    """Decide what to do with a question; never touches the store.

    ``sessions`` (the store's calendar) resolves dates in the question; a date the
    store does not cover, or a question no tool covers, gives ``kind="uncovered"``.
    """
    tickers = find_tickers(question, known_tickers)
    if tickers and _WHAT_IF.search(question):  # read-only, so before the trade refusal
        args: list[tuple[str, object]] = [("ticker", tickers[0])]
        if _HALF.search(question):
            args += [("action", "resize"), ("fraction", 0.5)]
        elif _DOUBLE.search(question):
            args += [("action", "resize"), ("fraction", 2.0)]
        else:
            args.append(("action", "close"))
        return Route("tools", tickers, (("what_if", tuple(args)),))
    if is_trade_request(question):
        trade_calls = tuple(("latest_signal", (("ticker", t),)) for t in tickers[:3])
        return Route("trade", tickers, trade_calls)
    if _HELP.search(question):
        return Route("help", tickers, ())
    topics = topics_of(question)
    period = resolve_period(question, sessions) if sessions else None
    if period is None and sessions and mentions_date(question):
        first, last = sessions[0], sessions[-1]
        return Route(
            "uncovered",
            tickers,
            (),
            None,
            f"The store covers {first} to {last}; the date in the question is outside "
            "it (or is not a trading session).",
        )
    special = _special_calls(question, tickers, topics, period)
    if special:
        return Route("tools", tickers, tuple(special[:MAX_CALLS]), period)
    if not tickers and not topics:
        return Route(
            "uncovered",
            tickers,
            (),
            period,
            "No pmax tool covers that question: the store holds this portfolio's "
            "signals, forecasts, model scores, positions, fills, risk and P&L.",
        )
    # "why" and bare "should" only mean the signal when a ticker is named.
    if (
        not tickers
        and topics
        and set(topics) <= {"latest_signal"}
        and not re.search(r"signal|recommend|shap|driver|layer", question, re.IGNORECASE)
    ):
        topics = []
    calls: list[tuple[str, tuple[tuple[str, object], ...]]] = []
    if tickers:
        use = topics or ["latest_signal", "forecasts"]
        if "latest_signal" in use and "forecasts" not in use and re.search(r"\bwhy\b|expect", question, re.IGNORECASE):
            use = use + ["forecasts"]
        for tk in tickers[:3]:
            for tool in use:
                tool_args: tuple[tuple[str, object], ...] = (("ticker", tk),) if tool in TICKER_TOOLS else ()
                call = (tool, tool_args)
                if call not in calls:
                    calls.append(call)
    else:
        use = topics or ["latest_signal", "positions", "risk_snapshot", "performance"]
        calls = [(tool, ()) for tool in use]
        if "forecasts" in use:  # forecasts need a ticker: show the signals instead
            calls = [c for c in calls if c[0] != "forecasts"]
            if ("latest_signal", ()) not in calls:
                calls.insert(0, ("latest_signal", ()))
    return Route("tools", tickers, tuple(calls[:MAX_CALLS]))
