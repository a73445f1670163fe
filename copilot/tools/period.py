"""Grounding tools over a period of stored sessions: P&L with attribution by
position, and history (equity and drawdown, fills and signal changes by date range).

P&L attribution is exact bookkeeping, not a model: a ticker's P&L over the period is its market value at the
end, minus its value at the close before the period, plus the cash its fills paid or received (commissions
included). Summed over tickers it equals the change in equity to the cent, and the tool says so in its rows.
Periods come as ISO ``start``/``end`` (``copilot.dates`` resolves the question's words into them); values are
rounded (money to cents, fractions to 6 places).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from copilot.tools.base import cite, clamp_limit, norm_ticker, result, select
from copilot.types import ToolResult

if TYPE_CHECKING:
    from engine.store.connection import Queryable


def parse_day(value: Any, name: str) -> dt.date | None:
    """An ISO date argument (or None); bad text is an InputError naming the argument."""
    from engine.errors import InputError

    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InputError(
            f"{name} must be a date like 2016-02-01, got {value!r}", hint="pass ISO dates (YYYY-MM-DD)"
        ) from None


def sessions_in(con: Queryable, account: str, start: Any, end: Any) -> tuple[list[dt.date], dt.date | None]:
    """Stored sessions in [start, end] (defaults: the latest session) and the one before."""
    _, rows = select(con, "SELECT as_of FROM equity WHERE account = ? ORDER BY as_of", [account])
    days = [r[0] for r in rows]
    if not days:
        return [], None
    first = parse_day(start, "start") or parse_day(end, "end") or days[-1]
    last = parse_day(end, "end") or (days[-1] if start not in (None, "") else first)
    first, last = min(first, last), max(first, last)
    inside = [d for d in days if first <= d <= last]
    before = [d for d in days if d < (inside[0] if inside else first)]
    return inside, (before[-1] if before else None)


def _money(x: float) -> float:
    return round(float(x), 2)


def _frac(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


_PNL_COLS = (
    "period",
    "first",
    "last",
    "sessions",
    "equity_before",
    "equity_end",
    "pnl",
    "return",
    "benchmark_return",
    "active_return",
    "worst_day",
    "worst_day_pnl",
    "best_day",
    "best_day_pnl",
)
_ATTR_COLS = ("ticker", "pnl", "contribution", "value_before", "value_end", "net_traded")


def pnl_period(
    con: Queryable, account: str, start: str | None = None, end: str | None = None, limit: int = 5
) -> ToolResult:
    """P&L over [start, end] with attribution by position and the buy-and-hold benchmark."""
    days, before = sessions_in(con, account, start, end)
    label = f"{start or ''}..{end or ''}".strip(".") or "latest session"
    if not days:
        return result(
            "pnl_period",
            "P&L over a period",
            list(_PNL_COLS),
            [],
            [],
            note=f"The store has no marked sessions for {label} (account {account}); "
            "ask about a period the replay has run through.",
            args={"start": start, "end": end},
        )
    first, last = days[0], days[-1]
    _, eq = select(
        con,
        "SELECT as_of, equity, daily_return FROM equity WHERE account = ? AND as_of BETWEEN ? AND ? ORDER BY as_of",
        [account, before or first, last],
    )
    by_day = {r[0]: float(r[1]) for r in eq}
    if before is not None:
        start_eq = by_day[before]
    else:  # the first stored session: undo its own return
        ret0 = eq[0][2] or 0.0
        start_eq = by_day[first] / (1.0 + float(ret0))
    end_eq = by_day[last]
    pnl = end_eq - start_eq
    path = [(d, by_day[d]) for d in sorted(by_day) if d >= first]
    prev = start_eq
    daily = []
    for d, e in path:
        daily.append((d, e - prev))
        prev = e
    worst = min(daily, key=lambda x: x[1])
    best = max(daily, key=lambda x: x[1])
    bench = _benchmark(con, before or first, last)
    ret = pnl / start_eq if start_eq else None
    period = first.isoformat() if first == last else f"{first}..{last}"
    row = (
        period,
        first,
        last,
        len(days),
        _money(start_eq),
        _money(end_eq),
        _money(pnl),
        _frac(ret),
        _frac(bench),
        _frac(None if bench is None or ret is None else ret - bench),
        worst[0],
        _money(worst[1]),
        best[0],
        _money(best[1]),
    )
    attr = _attribution(con, account, before, first, last, start_eq)
    n = clamp_limit(limit, 5, 20)
    losers = [a for a in attr if a[1] < 0][:n]
    winners = sorted((a for a in attr if a[1] > 0), key=lambda a: -a[1])[:n]
    shown = {a[0] for a in losers + winners}
    rest = [a for a in attr if a[0] not in shown]
    rows = losers + winners
    if rest:
        rows.append(
            (
                f"{len(rest)} others",
                _money(sum(a[1] for a in rest)),
                _frac(sum(a[2] or 0.0 for a in rest)),
                None,
                None,
                None,
            )
        )
    total = _money(sum(a[1] for a in attr))
    cites = [cite("equity", last, account=account, sessions=f"{before or first}..{last}")]
    pos_cite = cite("positions", last, account=account, sessions=f"{before or first}..{last}")
    fill_cite = cite("fills", last, account=account, dates=f"{first}..{last}")
    children: tuple[ToolResult, ...] = (
        result(
            "pnl_period",
            f"Attribution by position (largest detractors first; sums to {total:,.2f})",
            list(_ATTR_COLS),
            rows,
            [pos_cite, fill_cite],
        ),
    )
    by_signal = _by_signal(con, account, before or first, attr)
    if by_signal is not None:
        children = children + (by_signal,)
    if bench is not None:
        cites.append(cite("bars", last, sessions=f"{before or first}..{last}", rule="equal-weight buy-and-hold"))
    return result(
        "pnl_period",
        f"P&L {period} (money in $, return as a fraction of equity at the close before the period)",
        list(_PNL_COLS),
        [row],
        cites,
        args={"start": first.isoformat(), "end": last.isoformat()},
        children=children,
    )


def _by_signal(con: Queryable, account: str, day: dt.date, attr: list[tuple[Any, ...]]) -> ToolResult | None:
    """P&L grouped by each ticker's signal at the close before the period (BUY/SELL/HOLD)."""
    _, rows = select(
        con,
        "SELECT ticker, action, validated FROM signals WHERE account = ? AND as_of = "
        "(SELECT max(as_of) FROM signals WHERE account = ? AND as_of <= ?)",
        [account, account, day],
    )
    # Only validated signals move the book off its benchmark: say which ones did.
    action = {t: a if ok else f"{a} (not validated)" for t, a, ok in rows}
    if not action:
        return None
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for a in attr:
        groups.setdefault(action.get(a[0], "no signal"), []).append(a)
    out = sorted(((k, len(v), _money(sum(a[1] for a in v))) for k, v in groups.items()), key=lambda r: r[2])
    return result(
        "pnl_period",
        f"Attribution by stored signal on {day} (only validated signals tilt the book)",
        ["signal", "tickers", "pnl"],
        out,
        [cite("signals", day, account=account)],
    )


def _benchmark(con: Queryable, first: dt.date, last: dt.date) -> float | None:
    import pandas as pd

    from engine.portfolio.summary import BUY_AND_HOLD_SQL, buy_and_hold_value

    cols, rows = select(con, BUY_AND_HOLD_SQL, [first, last])
    value = buy_and_hold_value(pd.DataFrame(rows, columns=cols))
    return float(value.iloc[-1] - 1.0) if len(value) > 1 else None


def _attribution(
    con: Queryable, account: str, before: dt.date | None, first: dt.date, last: dt.date, start_eq: float
) -> list[tuple[Any, ...]]:
    """(ticker, pnl, contribution, value_before, value_end, net_traded), worst first."""
    mv0: dict[str, float] = {}
    if before is not None:
        _, rows = select(
            con,
            "SELECT ticker, market_value FROM positions WHERE account = ? AND as_of = ? AND qty <> 0",
            [account, before],
        )
        mv0 = {t: float(v) for t, v in rows}
    _, rows = select(
        con, "SELECT ticker, market_value FROM positions WHERE account = ? AND as_of = ? AND qty <> 0", [account, last]
    )
    mv1 = {t: float(v) for t, v in rows}
    _, rows = select(
        con,
        "SELECT ticker, sum(CASE WHEN side = 'BUY' THEN -(qty * price) - "
        "commission ELSE qty * price - commission END), "
        "sum(CASE WHEN side = 'BUY' THEN qty * price ELSE -(qty * price) END) "
        "FROM fills WHERE account = ? AND date BETWEEN ? AND ? GROUP BY ticker",
        [account, first, last],
    )
    flows = {t: (float(c), float(n)) for t, c, n in rows}
    out = []
    for t in sorted(set(mv0) | set(mv1) | set(flows)):
        cash, traded = flows.get(t, (0.0, 0.0))
        pnl = mv1.get(t, 0.0) - mv0.get(t, 0.0) + cash
        out.append(
            (
                t,
                _money(pnl),
                _frac(pnl / start_eq if start_eq else None),
                _money(mv0.get(t, 0.0)),
                _money(mv1.get(t, 0.0)),
                _money(traded),
            )
        )
    out.sort(key=lambda a: a[1])
    return out


_HIST_COLS = (
    "first",
    "last",
    "sessions",
    "equity_first",
    "equity_last",
    "equity_low",
    "equity_low_on",
    "equity_high",
    "equity_high_on",
    "max_drawdown",
    "max_drawdown_on",
    "fills",
    "halted_sessions",
)
_FILL_COLS = ("date", "ticker", "side", "qty", "price", "commission")
_SIG_COLS = ("as_of", "ticker", "action", "previous", "confidence", "expected_return", "horizon")


def history(
    con: Queryable,
    account: str,
    start: str | None = None,
    end: str | None = None,
    ticker: str | None = None,
    limit: int = 10,
) -> ToolResult:
    """Equity and drawdown over [start, end], fills in it, and signal changes in it."""
    days, before = sessions_in(con, account, start, end)
    tk = norm_ticker(ticker)
    n = clamp_limit(limit, 10, 50)
    if not days:
        return result(
            "history",
            "History",
            list(_HIST_COLS),
            [],
            [],
            note=f"The store has no marked sessions between {start} and {end} (account {account}).",
            args={"start": start, "end": end},
        )
    first, last = days[0], days[-1]
    _, eq = select(
        con,
        "SELECT as_of, equity, drawdown FROM equity WHERE account = ? AND as_of BETWEEN ? AND ? ORDER BY as_of",
        [account, first, last],
    )
    low = min(eq, key=lambda r: r[1])
    high = max(eq, key=lambda r: r[1])
    dd = min(eq, key=lambda r: r[2] if r[2] is not None else 0.0)
    where, args = ["account = ?", "date BETWEEN ? AND ?"], [account, first, last]
    if tk:
        where.append("ticker = ?")
        args.append(tk)
    _, fills = select(
        con,
        f"SELECT {', '.join(_FILL_COLS)} FROM fills WHERE {' AND '.join(where)} ORDER BY date DESC, fill_id DESC",
        args,
    )
    _, halted = select(
        con, "SELECT count(*) FROM risk WHERE account = ? AND as_of BETWEEN ? AND ? AND halted", [account, first, last]
    )
    row = (
        first,
        last,
        len(days),
        _money(eq[0][1]),
        _money(eq[-1][1]),
        _money(low[1]),
        low[0],
        _money(high[1]),
        high[0],
        _frac(dd[2]),
        dd[0],
        len(fills),
        int(halted[0][0]),
    )
    cites = [cite("equity", last, account=account, sessions=f"{first}..{last}")]
    children = []
    fill_rows = [(d, t, s, q, _money(p), _money(c)) for d, t, s, q, p, c in fills[:n]]
    if fills:
        more = f"; {len(fills) - n} more not shown" if len(fills) > n else ""
        children.append(
            result(
                "history",
                f"Fills {first}..{last} (newest first{more})",
                list(_FILL_COLS),
                fill_rows,
                [cite("fills", last, account=account, dates=f"{first}..{last}", ticker=tk)],
            )
        )
    sig = _signal_changes(con, account, before or first, first, last, tk, n)
    if sig is not None:
        children.append(sig)
    scope = f" for {tk}" if tk else ""
    return result(
        "history",
        f"History{scope} {first}..{last} (equity in $, drawdown as a fraction of the running peak)",
        list(_HIST_COLS),
        [row],
        cites,
        args={"start": first.isoformat(), "end": last.isoformat(), "ticker": tk},
        children=tuple(children),
    )


def _signal_changes(
    con: Queryable, account: str, before: dt.date, first: dt.date, last: dt.date, tk: str | None, n: int
) -> ToolResult | None:
    """Signals whose action changed inside the period (for one ticker: every signal)."""
    where, args = ["account = ?", "as_of BETWEEN ? AND ?"], [account, before, last]
    if tk:
        where.append("ticker = ?")
        args.append(tk)
    _, rows = select(
        con,
        "SELECT as_of, ticker, action, lag(action) OVER (PARTITION BY ticker "
        "ORDER BY as_of) AS previous, round(confidence, 4), "
        "round(expected_return, 6), horizon FROM signals "
        f"WHERE {' AND '.join(where)} ORDER BY as_of DESC, ticker",
        args,
    )
    rows = [r for r in rows if r[0] >= first and (tk or (r[3] is not None and r[2] != r[3]))]
    if not rows:
        return None
    title = (
        f"Signals for {tk} {first}..{last} (newest first)"
        if tk
        else f"Signal changes {first}..{last} (action differs from the session before)"
    )
    more = f"; {len(rows) - n} more not shown" if len(rows) > n else ""
    return result(
        "history",
        title + more,
        list(_SIG_COLS),
        rows[:n],
        [cite("signals", last, account=account, dates=f"{first}..{last}", ticker=tk)],
    )
