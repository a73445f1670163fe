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
from collections.abc import Iterable
from typing import Any

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
    return f'`"{clean}"`'


def _cell(col: str, value: Any, data_cols: tuple[str, ...], table: bool = True) -> str:
    text = quote_data(value) if col in data_cols else fmt_value(value)
    return text.replace("|", "\\|") if table else text


# Columns the offline answer shows per tool (the rest stay in --json and the prompt),
# so tables fit a narrow pane.
NARROW: dict[str, tuple[str, ...]] = {
    "latest_signal": ("ticker", "action", "confidence", "expected_return", "horizon"),
    "forecasts": ("model", "horizon", "mean", "prob_up", "skill"),
    "walk_forward": ("model", "horizon", "n_scored", "skill", "hit_rate"),
    "model_weights": ("model", "horizon", "weight", "skill", "demoted", "reason"),
    "positions": ("ticker", "qty", "close", "market_value", "weight"),
    "recent_fills": ("date", "ticker", "side", "qty", "price"),
    "rejections": ("as_of", "ticker", "side", "qty", "reason"),
    "quality_issues": ("date", "ticker", "rule", "action"),
    "performance": ("portfolio", "total_return", "sharpe_ratio", "max_drawdown"),
    "model_ranking": ("rank", "model", "horizon", "n_scored", "skill", "dm_pvalue"),
    "forecast_compare": ("ticker", "horizon", "mean", "prob_up", "action"),
    "pnl_period": ("ticker", "pnl", "contribution", "signal", "tickers"),
    "history": ("date", "ticker", "side", "qty", "price", "as_of", "action", "previous"),
    "risk_breakdown": ("scenario", "return", "usd", "ticker", "weight", "share_of_var", "limit", "used"),
}


# Tools whose one-row summary the offline lead sentence states in full.
_LEAD_SAYS_IT = {"pnl_period", "risk_breakdown", "history", "latest_signal"}


def render_table(
    res: ToolResult, level: int = 3, max_rows: int = 20, narrow: bool = True, skip_single: bool = False
) -> str:
    """A tool result as a heading plus a Markdown table (or its note when empty).

    ``narrow`` keeps the tool's key columns (``NARROW``) so tables fit a
    pane; ``skip_single`` leaves out a one-row summary a lead sentence already says.
    """
    head = "#" * level + " " + res.title
    if res.empty:
        return f"{head}\n\n{res.note or 'No rows.'}"
    cols = list(res.columns)
    keep = [c for c in cols if c in NARROW.get(res.tool, ())] if narrow else cols
    if len(keep) >= 2:
        idx = [cols.index(c) for c in keep]
        cols, rows = keep, [tuple(r[i] for i in idx) for r in res.rows]
    else:
        rows = list(res.rows)
    parts = []
    if not (skip_single and len(res.rows) == 1 and res.tool in _LEAD_SAYS_IT):
        if len(rows) == 1 and len(cols) > 6:  # a single wide row reads better as a list
            body = "\n".join(
                f"- **{c}**: {_cell(c, v, res.data_text, table=False)}"
                for c, v in zip(cols, rows[0])
                if v is not None and v != ""
            )
        else:
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            for row in rows[:max_rows]:
                lines.append("| " + " | ".join(_cell(c, v, res.data_text) for c, v in zip(cols, row)) + " |")
            if len(rows) > max_rows:
                lines.append(f"\n_… and {len(rows) - max_rows} more rows (ask about one ticker to narrow it down)._")
            body = "\n".join(lines)
        parts = [head, body]
    for child in res.children:
        parts.append(render_table(child, level + (1 if parts else 0), max_rows, narrow))
    return "\n\n".join(parts)


def has_data_text(results: Iterable[ToolResult]) -> bool:
    for res in results:
        for rec in res.records():
            if any(rec.get(col) not in (None, "") for col in res.data_text):
                return True
        if has_data_text(res.children):
            return True
    return False


def uncovered(note: str) -> str:
    """The answer when no tool covers the question: say so, and what can be asked."""
    return (
        f"The store does not cover that. {note}\n\nYou can ask, for example:\n\n"
        "- *Why did the portfolio lose money in February 2016?* · *What happened on 2016-02-11?*\n"
        "- *Which model has been most accurate for MSFT?* · *Compare the forecasts for AAPL, "
        "MSFT and NVDA*\n"
        "- *What is my biggest risk right now?* · *What if I sold all NVDA?*\n"
        "- *What is the latest signal for AAPL, and why?* · *Recent fills* · *Data-quality issues*"
    )


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
    return (
        f"I can't place, change or cancel orders for {names}: the copilot only reads the "
        "store and has no access to the broker.\n\n"
        "What you can do: paper orders in pmax come from the loop (signals → sizing → "
        "pre-trade risk checks → paper broker). Change how it trades in the `[signals]`, "
        "`[portfolio]` and `[risk]` sections of your config, run the loop (`pmax --run`, or "
        'the TUI), and ask me about the result: *"What is the latest signal for '
        f'{tickers[0] if tickers else "AAPL"}?"*, *"Show recent fills"*, *"Why was an '
        'order rejected?"*'
    )


def help_text() -> str:
    return (
        "I answer questions about this portfolio from the pmax store, and cite the rows I "
        "used. Try:\n\n"
        "- *What is the latest signal for AAPL, and why?* · *Compare the forecasts for AAPL, "
        "MSFT and NVDA*\n"
        "- *Why did the portfolio lose money in February 2016?* · *What happened on "
        "2016-02-11?* · *How did we do last week?*\n"
        "- *Which model has been most accurate for MSFT?* · *Walk-forward report*\n"
        "- *What is my biggest risk right now?* · *What if I sold all NVDA?*\n"
        "- *Show positions* · *Recent fills* · *Rejected orders* · *Any data-quality issues?*\n\n"
        "Every number a model writes is checked against those rows. I never place or "
        "cancel orders."
    )


def enable_model_hint(reason: str = "") -> str:
    why = f" ({reason})" if reason else ""
    return (
        "_Answered from the store without a language model" + why + ". To use one, set "
        '`[copilot] backend = "transformers"` with `model` (a directory, a .gguf file or a '
        'cached Hugging Face id), or `backend = "openai"` with a local server; '
        "`pmax copilot status` checks it._"
    )
