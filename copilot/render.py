"""Markdown rendering of tool results, sources lists and fixed replies (help, trade
refusal, how to enable a model).

Free text that comes from data (reasons, notes, headlines) is always rendered as a
quoted code span: Markdown in it is inert and a reader (or a model reading the
answer) sees it as a quotation, never as an instruction.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Iterable

from copilot.types import Citation, ToolResult

DATA_NOTE = "_Text in `quotes` is stored data, shown as written; the copilot never acts on it._"
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def fmt_value(value: Any) -> str:
    """One cell: dates ISO, booleans yes/no, floats compact but exact enough to check."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "—"
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        if abs(value) >= 1e-3:
            text = f"{value:.4f}".rstrip("0").rstrip(".")
            return text if text not in ("-0", "") else "0"
        return f"{value:.3g}"
    return str(value)


def quote_data(text: Any, limit: int = 240) -> str:
    """Render data text as an inert quotation: one line, no backticks, truncated."""
    if text is None or text == "":
        return "—"
    clean = _CTRL.sub(" ", str(text)).replace("`", "'").replace("\n", " ").strip()
    clean = re.sub(r"\s+", " ", clean)
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return f"`\"{clean}\"`"


def _cell(col: str, value: Any, data_cols: tuple[str, ...], table: bool = True) -> str:
    text = quote_data(value) if col in data_cols else fmt_value(value)
    return text.replace("|", "\\|") if table else text


def render_table(res: ToolResult, level: int = 3, max_rows: int = 20) -> str:
    """A tool result as a heading plus a Markdown table (or its note when empty)."""
    head = "#" * level + " " + res.title
    if res.empty:
        return f"{head}\n\n{res.note or 'No rows.'}"
    cols = list(res.columns)
    if len(res.rows) == 1 and len(cols) > 6:  # a single wide row reads better as a list
        lines = [f"- **{c}**: {_cell(c, v, res.data_text, table=False)}" for c, v in zip(cols, res.rows[0])
                 if v is not None and v != ""]
        body = "\n".join(lines)
    else:
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in res.rows[:max_rows]:
            lines.append("| " + " | ".join(_cell(c, v, res.data_text) for c, v in zip(cols, row)) + " |")
        if len(res.rows) > max_rows:
            lines.append(f"\n_… and {len(res.rows) - max_rows} more rows (ask about one ticker "
                         "to narrow it down)._")
        body = "\n".join(lines)
    parts = [head, body]
    for child in res.children:
        parts.append(render_table(child, level + 1, max_rows))
    return "\n\n".join(parts)


def has_data_text(results: Iterable[ToolResult]) -> bool:
    for res in results:
        for rec in res.records():
            if any(rec.get(col) not in (None, "") for col in res.data_text):
                return True
        if has_data_text(res.children):
            return True
    return False


def summary_line(res: ToolResult) -> str | None:
    """A one-sentence lead for the results that have a natural headline."""
    if res.empty or not res.rows:
        return None
    rec = res.records()[0]
    if res.tool == "latest_signal" and "ticker" in res.args:
        ok = "passed every validation layer" if rec.get("validated") else "did not pass every validation layer"
        return (f"The latest signal for **{rec['ticker']}** (as of {fmt_value(rec['as_of'])}) is "
                f"**{rec['action']}** with confidence {fmt_value(rec['confidence'])}, expected "
                f"return {fmt_value(rec['expected_return'])} over {fmt_value(rec['horizon'])} "
                f"sessions and P(up) {fmt_value(rec['prob_up'])}; it {ok}.")
    if res.tool == "risk_snapshot":
        halted = rec.get("halted")
        state = "**halted** (kill switch on)" if halted else "not halted"
        return (f"As of {fmt_value(rec['as_of'])} trading is {state}; 1-day historical VaR(95%) is "
                f"{fmt_value(rec['var_hist_95'])} and drawdown {fmt_value(rec['drawdown'])}.")
    if res.tool == "performance":
        text = (f"From {fmt_value(rec['first_as_of'])} to {fmt_value(rec['last_as_of'])} the "
                f"portfolio returned {fmt_value(rec['total_return'])} in total (Sharpe "
                f"{fmt_value(rec['sharpe_ratio'])}, max drawdown {fmt_value(rec['max_drawdown'])}).")
        base = res.records()[1] if len(res.rows) > 1 else None
        if base is not None:
            text += (f" The naive baseline, {base['portfolio']}, returned {fmt_value(base['total_return'])} "
                     f"(Sharpe {fmt_value(base['sharpe_ratio'])}, max drawdown {fmt_value(base['max_drawdown'])}).")
        return text
    return None


def render_results(results: list[ToolResult], max_rows: int = 20) -> str:
    """The offline backend's answer body: lead sentences, then one table per tool."""
    leads = [s for s in (summary_line(r) for r in results) if s]
    parts = []
    if leads:
        parts.append("\n\n".join(leads))
    parts.extend(render_table(r, max_rows=max_rows) for r in results)
    if has_data_text(results):
        parts.append(DATA_NOTE)
    return "\n\n".join(parts)


def dedupe(citations: Iterable[Citation]) -> list[Citation]:
    seen: list[Citation] = []
    for c in citations:
        if c not in seen:
            seen.append(c)
    return seen


def render_sources(citations: list[Citation], required: bool = True) -> str:
    """The Sources list appended to every answer built from tools."""
    if not citations and not required:
        return ""
    if not citations:
        return "\n\n**Sources:** none: the store has no rows for this question yet."
    items = "\n".join(f"{i}. {c.label()}" for i, c in enumerate(citations, 1))
    return f"\n\n**Sources**\n\n{items}"


def trade_refusal(tickers: tuple[str, ...]) -> str:
    names = ", ".join(tickers) if tickers else "that"
    return (f"I can't place, change or cancel orders for {names}: the copilot only reads the "
            "store and has no access to the broker.\n\n"
            "What you can do: paper orders in pmax come from the loop (signals → sizing → "
            "pre-trade risk checks → paper broker). Change how it trades in the `[signals]`, "
            "`[portfolio]` and `[risk]` sections of your config, run the loop (`pmax --run`, or "
            "the TUI), and ask me about the result: *\"What is the latest signal for "
            f"{tickers[0] if tickers else 'AAPL'}?\"*, *\"Show recent fills\"*, *\"Why was an "
            "order rejected?\"*")


def help_text() -> str:
    return ("I answer questions about this portfolio from the pmax store, and cite the rows I "
            "used. Try:\n\n"
            "- *What is the latest signal for AAPL, and why?*\n"
            "- *Forecasts for MSFT* · *Walk-forward report* · *Which models were demoted?*\n"
            "- *What is our risk?* (VaR, drawdown, kill switch) · *Show positions* · "
            "*Recent fills* · *Rejected orders*\n"
            "- *Any data-quality issues?* · *How is the portfolio performing?*\n\n"
            "I never place or cancel orders.")


def enable_model_hint(reason: str = "") -> str:
    why = f" ({reason})" if reason else ""
    return ("_Offline answer: no language model is configured or available" + why + ". To "
            "enable one, set `[copilot] backend = \"transformers\"` and `model` to a local "
            "directory or a Hugging Face id already in your cache (set `allow_download = true` "
            "to fetch it), or `backend = \"openai\"` with `openai_base_url` pointing at a "
            "llama.cpp / Ollama / vLLM server on localhost. `pmax copilot status` checks it._")
