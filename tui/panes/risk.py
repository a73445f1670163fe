"""Risk pane: equity and drawdown charts, return beside the benchmark (active return,
tracking error, IR, PSR, turnover, costs), VaR/CVaR, exposure, regime, kill switch,
limit utilisation, positions, recent fills and rejections, all for the account.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tui.panes.base import WAITING, Pane
from tui.panes.views import RiskView, parse_json_dict
from tui.widgets.charts import chart_to_text, draw_drawdown, draw_equity
from tui.widgets.lazy_plot import LazyPlot
from tui.widgets.table import PmaxTable
from tui.widgets.text import fmt_money, fmt_num, fmt_pct, hbar

if TYPE_CHECKING:
    import pandas as pd

EMPTY = (
    "No equity yet. The mark-to-market stage writes the account's equity each "
    "cycle; press n to step or space to run (table: equity)."
)
TITLES = {"#risk-positions": "Positions", "#risk-fills": "Recent fills", "#risk-rejections": "Recent rejections"}
_MIN = 20  # engine.portfolio.report.MIN_SESSIONS
NO_RISK = "VaR/CVaR, regime and kill switches appear once the risk stage runs (table: risk)."


def risk_rows(view: RiskView) -> list[tuple[str, str, str, str]]:
    """The summary block as (label, value, label, value) rows."""
    rows: list[tuple[str, str, str, str]] = []
    eq = view.equity
    if not eq.empty:
        last = eq.iloc[-1]
        rows.append(("Equity", fmt_money(_f(last["equity"]), True), "DD", fmt_pct(_f(last["drawdown"]))))
        rows.append(("As of", str(last["as_of"])[:10], "Cash", fmt_money(_f(last["cash"]), True)))
        rows.append(("Gross", fmt_pct(_f(last["gross"]), 0, False), "Net", fmt_pct(_f(last["net"]), 0)))
        start, now = _f(eq["equity"].iloc[0]), _f(last["equity"])
        base = _f(last["baseline"]) if "baseline" in eq else None
        if start and now is not None and base is not None:  # every performance figure beside the naive baseline
            rows.append(("Return", fmt_pct(now / start - 1.0), "B&H", fmt_pct(base / start - 1.0)))
        rows.extend(benchmark_rows(view.report))
    r = view.risk
    if r is None:
        return rows
    rows.append(
        (
            "VaR95",
            fmt_pct(_f(r.get("var_hist_95")), signed=False),
            "VaR99",
            fmt_pct(_f(r.get("var_hist_99")), signed=False),
        )
    )
    rows.append(
        (
            "CVaR95",
            fmt_pct(_f(r.get("cvar_hist_95")), signed=False),
            "CVaR99",
            fmt_pct(_f(r.get("cvar_hist_99")), signed=False),
        )
    )
    if _f(r.get("var_mc_95")) is not None:
        rows.append(
            (
                "MC95",
                fmt_pct(_f(r.get("var_mc_95")), signed=False),
                "Paths",
                f"{_count(r.get('mc_paths'))} {r.get('mc_device') or ''}".strip(),
            )
        )
    rows.append(
        (
            "Vol",
            fmt_pct(_f(r.get("realised_vol")), signed=False),
            "FcVol",
            fmt_pct(_f(r.get("forecast_vol")), signed=False),
        )
    )
    rows.append(("Expo", fmt_pct(_f(r.get("gross")), 0, False) + " gr", "Net", fmt_pct(_f(r.get("net")), 0)))
    rows.append(("Beta", fmt_num(_f(r.get("beta"))), "Regime", str(view.regime or "—")))
    return rows


def benchmark_rows(rep: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """Active return, tracking error, IR (t), PSR vs the benchmark, turnover and costs
    (`engine.portfolio.report.benchmark_report`); ratios withheld on a short history."""
    if not rep or not rep.get("sessions"):
        return []
    costs = (
        "Costs",
        fmt_money(_f(rep.get("costs_paid")), True),
        "Overlay",
        ",".join(rep.get("overlays_on") or []) or "none",
    )
    if rep.get("withheld"):
        return [costs, ("Active", "withheld", "Needs", f"{_MIN} sess.")]
    ir, t = _f(rep.get("information_ratio")), _f(rep.get("ir_tstat"))
    return [
        (
            "Active",
            fmt_pct(_f(rep.get("active_return"))) + "/y",
            "TE",
            fmt_pct(_f(rep.get("tracking_error")), signed=False),
        ),
        ("IR", fmt_num(ir), "IR t", fmt_num(t)),
        ("PSR>B", fmt_num(_f(rep.get("psr_vs_benchmark"))), "Turn", f"{fmt_num(_f(rep.get('turnover')))}x/y"),
        ("Drag", fmt_pct(_f(rep.get("cost_drag")), signed=False) + "/y", *costs[:2]),
        ("Overlay", costs[3], "", ""),
    ]


def kill_switch_line(view: RiskView) -> str:
    r = view.risk
    if r is None:
        return NO_RISK
    if r.get("halted"):
        return "Kill switch: HALTED — " + str(r.get("halt_reason") or "no reason recorded")
    return "Kill switch: armed, trading allowed"


def summary_table(view: RiskView) -> Table:
    rows = risk_rows(view)
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    for i, style in enumerate(("dim", "bold", "dim", "bold")):
        # Labels never shrink (a cut label reads as nothing, e.g. "Equ…" at 120 columns); values may.
        widest = max((len(r[i]) for r in rows), default=0) if i % 2 == 0 else None
        table.add_column(style=style, no_wrap=True, min_width=widest, overflow="ellipsis")
    for row in rows:
        table.add_row(*row)
    return table


def limit_lines(view: RiskView, width: int = 10) -> list[str]:
    """One utilisation bar per risk limit ({limit: fraction used})."""
    if view.risk is None:
        return []
    used = parse_json_dict(view.risk.get("limit_utilisation"))
    out = []
    for name, frac in sorted(used.items()):
        value = _f(frac)
        flag = " !" if value is not None and value >= 1.0 else ""
        out.append(f"{name[:16]:<16} {hbar(value, width)} {fmt_pct(value, 0, False):>4}{flag}")
    return out


class RiskPane(Pane):
    """Account risk at a glance; scrolls for positions and trades."""

    PANE_ID: ClassVar[str] = "risk"
    TITLE: ClassVar[str] = "Risk"

    def __init__(self) -> None:
        super().__init__()
        self.view: RiskView | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="risk-scroll"):
            yield Static(WAITING, id="risk-summary", markup=False)
            yield Static("", id="risk-limits", markup=False)
            with Horizontal(id="risk-charts") as charts:
                charts.display = False
                yield LazyPlot(id="risk-equity")
                yield LazyPlot(id="risk-dd")
            yield Static("Positions", id="risk-positions-head", classes="subhead")
            yield self._table("risk-positions", ("Ticker", "Qty", "Avg cost", "Close", "Value", "Weight"))
            yield Static("Recent fills", id="risk-fills-head", classes="subhead")
            yield self._table("risk-fills", ("Date", "Ticker", "Side", "Qty", "Price", "Comm"))
            yield Static("Recent rejections", id="risk-rejections-head", classes="subhead")
            yield self._table("risk-rejections", ("Date", "Ticker", "Side", "Qty", "Reason"))

    @staticmethod
    def _table(id: str, columns: tuple[str, ...]) -> PmaxTable:
        table = PmaxTable(id=id, classes="risk-table")
        for name in columns:
            table.add_column(name, key=name)
        return table

    def primary(self) -> VerticalScroll:
        return self.query_one("#risk-scroll", VerticalScroll)

    def set_view(self, view: RiskView) -> None:
        self.view = view
        self.set_empty(view.equity.empty)
        self.query_one("#risk-summary", Static).update(summary_table(view) if not view.equity.empty else EMPTY)
        limits = limit_lines(view)
        note = [view.report["data_note"]] if view.report and view.report.get("data_note") else []
        self.query_one("#risk-limits", Static).update(
            "\n".join([kill_switch_line(view), *(["Limit utilisation", *limits] if limits else []), *note])
        )
        self.query_one("#risk-charts").display = not view.equity.empty
        halted = bool(view.risk and view.risk.get("halted"))
        self.set_class(halted, "-halted")
        self.border_subtitle = Text("HALTED" if halted else (view.regime or ""))
        for plot_id, draw in (("#risk-equity", draw_equity), ("#risk-dd", draw_drawdown)):
            plot = self.query_one(plot_id, LazyPlot)
            draw(plot.plt, view.equity)
            plot.refresh()
        self._fill(
            "#risk-positions",
            view.positions,
            lambda r: (
                r.ticker,
                f"{int(r.qty):,}",
                fmt_num(_f(r.avg_cost)),
                fmt_num(_f(r.close)),
                fmt_money(_f(r.market_value)),
                fmt_pct(_f(r.weight), 1, False),
            ),
            "none open (table: positions)",
        )
        self._fill(
            "#risk-fills",
            view.fills,
            lambda r: (
                str(r.date)[:10],
                r.ticker,
                r.side,
                f"{int(r.qty):,}",
                fmt_num(_f(r.price)),
                fmt_num(_f(r.commission)),
            ),
            "none yet; orders fill at the next open (table: fills)",
        )
        self._fill(
            "#risk-rejections",
            view.rejections,
            lambda r: (str(r.as_of)[:10], r.ticker, r.side, f"{int(r.qty):,}", str(r.reason or "")),
            "none (table: orders)",
        )

    def _fill(self, selector: str, df: pd.DataFrame, cells: Any, empty: str) -> None:
        table = self.query_one(selector, PmaxTable)
        head = self.query_one(f"{selector}-head", Static)
        title = TITLES[selector]
        table.clear()
        table.frame = df
        table.display = not df.empty
        head.update(f"{title} — {empty}" if df.empty else f"{title} ({len(df)})")
        for r in df.itertuples():
            table.add_row(*cells(r))

    def export_frame(self) -> pd.DataFrame | None:
        if self.view is None:
            return None
        focused = self.app.focused
        if isinstance(focused, PmaxTable) and focused.id in ("risk-fills", "risk-rejections"):
            return focused.frame
        return self.view.positions if not self.view.positions.empty else self.view.equity

    def chart_text(self, width: int = 100, height: int = 25) -> str | None:
        if self.view is None:
            return None
        return chart_to_text(draw_equity, self.view.equity, width=width, height=height) + chart_to_text(
            draw_drawdown, self.view.equity, width=width, height=max(8, height // 2)
        )


def _count(value: object) -> str:
    """100000 -> "100k" (the Paths cell must fit a 40-column pane)."""
    n = _f(value)
    if n is None:
        return "?"
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n:.0f}"


def _f(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out
