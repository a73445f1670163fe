"""The offline backend's sentences: one short paragraph per tool result, written from
the result's own rows, naming winners and saying plainly when nothing answers, and
`render_results`, the offline answer (those sentences, then `copilot.render` tables).

Every figure is printed from a row value with a stated rounding (dollars whole or
in thousands with one decimal, fractions as percentages with two decimals), so
the number check verifies each one against the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from copilot.render import DATA_NOTE, has_data_text, quote_data, render_table
from copilot.types import ToolResult


def usd(x: Any, k: bool = False) -> str:
    """$10,046 / -$3.0k (k=True and |x| >= 1000)."""
    if x is None:
        return "n/a"
    v = float(x)
    sign = "-" if v < 0 else ""
    if k and abs(v) >= 1000:
        return f"{sign}${abs(v) / 1000:,.1f}k"
    return f"{sign}${abs(v):,.0f}"


def pct(x: Any, signed: bool = True) -> str:
    """-1.03% from -0.010278."""
    if x is None:
        return "n/a"
    return f"{float(x) * 100:+.2f}%" if signed else f"{float(x) * 100:.2f}%"


def num(x: Any, places: int = 4) -> str:
    if x is None:
        return "n/a"
    return f"{float(x):.{places}f}"


def _child(res: ToolResult, word: str) -> ToolResult | None:
    for c in res.children:
        if word in c.title:
            return c
    return None


def _signal(res: ToolResult) -> str:
    if "ticker" not in res.args:
        recs = res.records()
        buys = [r["ticker"] for r in recs if r["action"] == "BUY"]
        sells = [r["ticker"] for r in recs if r["action"] == "SELL"]
        return (
            f"On {recs[0]['as_of']} the most confident signals were "
            + ", ".join(f"{r['ticker']} {r['action']} ({num(r['confidence'], 2)})" for r in recs[:3])
            + f"; {len(buys)} BUY and {len(sells)} SELL among the {len(recs)} shown."
        )
    r = res.records()[0]
    ok = "passed every validation layer" if r.get("validated") else "did not pass every validation layer"
    text = (
        f"The latest signal for **{r['ticker']}** (as of {r['as_of']}) is **{r['action']}** "
        f"with confidence {num(r['confidence'], 2)}, expected return {pct(r['expected_return'])} "
        f"over {r['horizon']} sessions and P(up) {num(r['prob_up'], 2)}; it {ok}."
    )
    layers = _child(res, "layers")
    if layers is not None:
        failed = [x["layer"] for x in layers.records() if not x["passed"]]
        if failed:
            text += f" Failed layers: {', '.join(failed)}."
    if r.get("reason"):
        text += f" Stored reason: {quote_data(r['reason'])}."
    drivers = _child(res, "SHAP")
    if drivers is not None and drivers.rows:
        top = drivers.records()[0]
        text += f" The largest SHAP driver is {top['feature']} ({num(top['shap'], 4)})."
    return text


def _forecasts(res: ToolResult) -> str:
    recs = res.records()
    ens = [r for r in recs if r["model"] == "ensemble"] or recs[:1]
    r = ens[0]
    return (
        f"For {r['ticker']} on {r['as_of']}, the {r['model']} forecast over {r['horizon']} "
        f"sessions is a log return of {pct(r['mean'])} (interval {pct(r['lower'])} to "
        f"{pct(r['upper'])}, P(up) {num(r['prob_up'], 2)}); {len(recs)} model forecasts are listed."
    )


def _walk_forward(res: ToolResult) -> str:
    recs = [r for r in res.records() if r["model"] != "naive" and r["skill"] is not None]
    if not recs:
        return "Only the naive baseline has been scored so far."
    best = max(recs, key=lambda r: r["skill"])
    verdict = "beats" if best["skill"] > 0 else "does not beat"
    return (
        f"Out of sample, the best skill is {best['model']} at h = {best['horizon']} "
        f"({num(best['skill'])} over {best['n_scored']} scored forecasts), which {verdict} "
        "the naive random walk."
    )


def _ranking(res: ToolResult) -> str:
    recs = res.records()
    scope = f" for {res.args['ticker']}" if res.args.get("ticker") else ""
    top = recs[0]
    if top["skill"] is not None and top["skill"] > 0:
        sig = (
            "significantly (DM p " + num(top["dm_pvalue"], 3) + ")"
            if top["beats_naive"]
            else "but not significantly (DM p " + num(top["dm_pvalue"], 3) + ")"
        )
        return (
            f"The most accurate model{scope} is **{top['model']}** at h = {top['horizon']}: "
            f"skill {num(top['skill'])} over {top['n_scored']} scored forecasts, ahead of "
            f"naive {sig}."
        )
    return (
        f"No model has beaten the naive random walk{scope} out of sample: the closest is "
        f"{top['model']} at h = {top['horizon']} with skill {num(top['skill'])} over "
        f"{top['n_scored']} scored forecasts, so naive is the most accurate."
    )


def _risk(res: ToolResult) -> str:
    r = res.records()[0]
    state = "**halted** (kill switch on)" if r.get("halted") else "not halted"
    return (
        f"As of {r['as_of']} trading is {state}; 1-day historical VaR(95%) is "
        f"{pct(r['var_hist_95'])} and drawdown {pct(r['drawdown'])}."
    )


def _breakdown(res: ToolResult) -> str:
    r = res.records()[0]
    parts = []
    if r.get("worst_scenario"):
        parts.append(
            f"Your biggest risk is a repeat of **{r['worst_scenario']}**: the stress test "
            f"puts it at {pct(r['worst_scenario_return'])} ({usd(r['worst_scenario_usd'], k=True)}) "
            f"on today's holdings."
        )
    if r.get("var_hist_95") is not None:
        text = f"Day to day, 1-day VaR(95%) is {pct(r['var_hist_95'])} ({usd(r['var_95_usd'], k=True)})"
        if r.get("top_var_contributor"):
            text += (
                f"; the largest contributor is **{r['top_var_contributor']}** "
                f"({pct(r['top_var_share'], signed=False)} of it)"
            )
        parts.append(text + ".")
    if r.get("closest_limit"):
        parts.append(
            f"The limit closest to binding is {r['closest_limit']} at "
            f"{pct(r['closest_limit_used'], signed=False)} of its cap; drawdown is "
            f"{pct(r['drawdown'])}."
        )
    return " ".join(parts) or "The stored risk row holds no measures yet."


def _positions(res: ToolResult) -> str:
    recs = res.records()
    top = recs[0]
    text = (
        f"On {top['as_of']} the book holds {len(recs)} position{'s' if len(recs) != 1 else ''}; "
        f"the largest is {top['ticker']} "
        f"({usd(top['market_value'], k=True)}, {pct(top['weight'], signed=False)} of equity)."
    )
    acct = _child(res, "Account")
    if acct is not None and acct.rows:
        a = acct.records()[0]
        text += f" Cash is {usd(a['cash'], k=True)} of {usd(a['equity'], k=True)} equity."
    return text


def _fills(res: ToolResult) -> str:
    recs = res.records()
    r = recs[0]
    return (
        f"The latest fill was {r['side']} {r['qty']} {r['ticker']} at {r['price']:.2f} on "
        f"{r['date']}; {len(recs)} fills are listed."
    )


def _rejections(res: ToolResult) -> str:
    r = res.records()[0]
    return (
        f"The latest rejected or cancelled order was {r['side']} {r['qty']} {r['ticker']} "
        f"on {r['as_of']} ({r['status']}); the stored reason is quoted below."
    )


def _quality(res: ToolResult) -> str:
    return f"{len(res.rows)} data-quality issues are listed, newest first."


def _performance(res: ToolResult) -> str:
    r = res.records()[0]
    text = (
        f"From {r['first_as_of']} to {r['last_as_of']} the portfolio returned "
        f"{pct(r['total_return'])} (Sharpe {num(r['sharpe_ratio'], 2)}, max drawdown "
        f"{pct(r['max_drawdown'])})."
    )
    if len(res.rows) > 1:
        b = res.records()[1]
        text += (
            f" {b['portfolio'].capitalize()} returned {pct(b['total_return'])} (Sharpe "
            f"{num(b['sharpe_ratio'], 2)}, max drawdown {pct(b['max_drawdown'])})."
        )
    return text


def _pnl(res: ToolResult) -> str:
    r = res.records()[0]
    when = f"from {r['first']} to {r['last']}" if r["first"] != r["last"] else f"on {r['first']}"
    verb = "lost" if r["pnl"] < 0 else "made"
    text = f"The portfolio {verb} {usd(abs(r['pnl']))} ({pct(r['return'])}) {when}"
    if r.get("benchmark_return") is not None:
        text += (
            f", against {pct(r['benchmark_return'])} for equal-weight buy-and-hold (active {pct(r['active_return'])})"
        )
    text += "."
    attr = _child(res, "Attribution")
    if attr is not None and attr.rows:
        recs = [a for a in attr.records() if not str(a["ticker"]).endswith("others")]
        losers = [a for a in recs if a["pnl"] < 0][:4]
        winners = sorted((a for a in recs if a["pnl"] > 0), key=lambda a: -a["pnl"])[:3]
        if losers:
            text += (
                " The largest detractors were "
                + ", ".join(f"{a['ticker']} ({usd(a['pnl'], k=True)})" for a in losers)
                + "."
            )
        if winners:
            text += (
                " The largest contributors were "
                + ", ".join(f"{a['ticker']} ({usd(a['pnl'], k=True)})" for a in winners)
                + "."
            )
    if r["first"] != r["last"]:
        text += (
            f" The worst session was {r['worst_day']} ({usd(r['worst_day_pnl'], k=True)}), "
            f"the best {r['best_day']} ({usd(r['best_day_pnl'], k=True)})."
        )
    return text


def _compare(res: ToolResult) -> str:
    recs = res.records()
    h = max(r["horizon"] for r in recs)
    at_h = sorted((r for r in recs if r["horizon"] == h), key=lambda r: -(r["mean"] or 0.0))
    best = at_h[0]
    if best["mean"] == at_h[-1]["mean"]:
        return (
            f"At h = {h}, every ticker shown has the same {best['model']} forecast "
            f"({pct(best['mean'])}): the models see no edge between them."
        )
    return (
        f"At h = {h}, the highest {best['model']} forecast is {best['ticker']} "
        f"({pct(best['mean'])}, P(up) {num(best['prob_up'], 2)}); the lowest is "
        f"{at_h[-1]['ticker']} ({pct(at_h[-1]['mean'])})."
    )


def _what_if(res: ToolResult) -> str:
    rows = {r["measure"]: r for r in res.records()}
    tk = res.args.get("ticker")
    cash = rows.get("cash")
    var = rows.get("var_hist_95")
    gross = rows.get("gross")
    text = f"**Hypothetical**: {res.title.split(': ', 1)[-1]}."
    if cash:
        text += f" Cash would go from {usd(cash['now'], k=True)} to {usd(cash['hypothetical'], k=True)}"
    if gross:
        text += f", gross exposure from {pct(gross['now'], signed=False)} to {pct(gross['hypothetical'], signed=False)}"
    if var and var["now"] is not None and var["hypothetical"] is not None:
        text += f", and 1-day VaR(95%) from {pct(var['now'])} to {pct(var['hypothetical'])}"
    return text + f" for the book without that change to {tk}."


def _history(res: ToolResult) -> str:
    r = res.records()[0]
    if r["first"] == r["last"]:
        text = (
            f"On {r['first']} equity closed at {usd(r['equity_last'])} with drawdown "
            f"{pct(r['max_drawdown'])}; {r['fills']} fills."
        )
    else:
        text = (
            f"From {r['first']} to {r['last']} ({r['sessions']} sessions) equity went from "
            f"{usd(r['equity_first'])} to {usd(r['equity_last'])}; the deepest drawdown was "
            f"{pct(r['max_drawdown'])} on {r['max_drawdown_on']}; {r['fills']} fills."
        )
    if r["halted_sessions"]:
        text += f" Trading was halted in {r['halted_sessions']} sessions."
    return text


def _calc(res: ToolResult) -> str:
    r = res.records()[0]
    return f"{r['expression']} = {r['value']}."


LEADS: dict[str, Callable[[ToolResult], str]] = {
    "latest_signal": _signal,
    "forecasts": _forecasts,
    "walk_forward": _walk_forward,
    "model_ranking": _ranking,
    "risk_snapshot": _risk,
    "risk_breakdown": _breakdown,
    "positions": _positions,
    "recent_fills": _fills,
    "rejections": _rejections,
    "quality_issues": _quality,
    "performance": _performance,
    "pnl_period": _pnl,
    "forecast_compare": _compare,
    "what_if": _what_if,
    "history": _history,
    "calculate": _calc,
}


def lead(res: ToolResult) -> str | None:
    """The sentence(s) that answer from one result; None for empty results (their note
    is shown instead)."""
    if res.empty:
        return None
    fn = LEADS.get(res.tool)
    return fn(res) if fn else None


def render_results(results: list[ToolResult], max_rows: int = 20) -> str:
    """The offline backend's answer: sentences from the rows, then narrow tables."""
    leads = [s for s in (lead(r) for r in results) if s]
    parts = []
    if leads:
        parts.append("\n\n".join(leads))
    parts.extend(render_table(r, max_rows=max_rows, skip_single=True) for r in results)
    if has_data_text(results):
        parts.append(DATA_NOTE)
    return "\n\n".join(p for p in parts if p)
