"""The help screen (`?`): every key binding with its id, how to remap keys, and a
glossary of every column and symbol the panes show."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keymap import SPECS, display_key, effective_keys

SCOPE_NAMES = {
    "app": "Everywhere",
    "table": "Tables",
    "watchlist": "Watchlist",
    "forecasts": "Forecasts",
    "signals": "Signals",
    "risk": "Risk",
    "copilot": "Copilot",
}


def bindings_table(keymap: Mapping[str, str]) -> Table:
    """A Rich table of every binding: where, key, what, id."""
    keys = effective_keys(keymap)
    table = Table(box=None, expand=True, pad_edge=False)
    table.add_column("Where", style="dim", no_wrap=True)
    table.add_column("Key", style="bold", no_wrap=True)
    table.add_column("Action")
    table.add_column("Id (for \\[keymap])", style="dim", no_wrap=True)
    for scope, title in SCOPE_NAMES.items():
        for spec in (s for s in SPECS if s.scope == scope):
            table.add_row(title, display_key(keys[spec.id]), spec.description, spec.id)
    table.add_row("Everywhere", "ctrl+q", "Quit (Textual default)", "—")
    table.add_row("Detail view", "esc", "Close", "detail_close")
    return table


GLOSSARY: tuple[tuple[str, str, str], ...] = (
    ("Header", "replay / live / view", "where bars come from: a history file, a live feed, or only the database"),
    ("Header", "12/250 sessions", "sessions committed / sessions in the replay file"),
    (
        "Header",
        "equity +1.2% vs B&H +3.4%",
        "the account's return since its first session beside equal-weight "
        "buy-and-hold of the same tickers over the same sessions",
    ),
    ("Header", "kill switch: armed / HALTED", "from the latest risk row, as in the Risk pane; HALTED gives its reason"),
    ("Watchlist", "Last, Chg", "last close and its change from the previous close"),
    ("Watchlist", "Trend (20)", "the last 20 closes as a sparkline (low to high)"),
    ("Watchlist", "Signal BUY 60%", "latest signal and its confidence (probability the call is right)"),
    (
        "Watchlist",
        "Flags S Q ?",
        "S stale bar (cached, the source failed), Q quarantined bar (failed a data check), ? no bars stored yet",
    ),
    ("Signals", "Call BUY / HOLD / SELL", "the signal's direction (its target weight moves only if validated)"),
    ("Signals", "Conf, E(r)", "confidence; expected return over the signals' horizon"),
    ("Signals", "Layers ✓", "every validation layer passed: the signal is validated and may trade"),
    (
        "Signals",
        "Layers ✗ S$",
        "the layers that failed: S statistical (skill vs naive), R regime, Z size, "
        "C correlation, $ cost (enter opens the detail with each layer's reason)",
    ),
    ("Forecasts", "h = 5", "forecast horizon in sessions (h cycles); the pane opens at the signals' horizon"),
    ("Forecasts", "Wt", "the model's weight in the ensemble (0 when demoted)"),
    ("Forecasts", "Skill", "1 − model error / naive error on matured forecasts; > 0 beats the naive forecast"),
    (
        "Forecasts",
        "DM p",
        "Diebold–Mariano p-value against the naive forecast; < 0.05 is a significant "
        "difference, larger is indistinguishable from naive",
    ),
    ("Forecasts", "↓ (after a model)", "demoted: no significant skill, so it gets no weight"),
    ("Risk", "Expo 97% gr", "gross exposure: sum of |position value| / equity"),
    ("Risk", "DD", "drawdown from the equity peak"),
    ("Risk", "VaR95 / CVaR95", "one-day historical loss exceeded on 5% of days / average loss on those days"),
    ("Risk", "Return / B&H", "account return beside equal-weight buy-and-hold over the same sessions"),
    ("Risk", "Active, TE", "active return against the benchmark (per year) and its tracking error"),
    (
        "Risk",
        "IR, IR t",
        "information ratio (active return / tracking error) and its t-statistic; |t| < 2 is not significant",
    ),
    ("Risk", "PSR>B", "probability that the strategy's true Sharpe ratio beats the benchmark's"),
    ("Risk", "Turn, Drag, Costs", "one-way turnover per year; costs per year as a share of equity; costs paid"),
    ("Risk", "MC95, Paths", "Monte-Carlo one-day VaR at 95% and the simulated paths (and device)"),
    ("Risk", "Vol, FcVol", "realised and forecast annualised volatility of the book"),
    (
        "Risk",
        "limit bars",
        "how much of each risk limit is used (100% trips the kill switch); the drawdown "
        "limits measure drawdown against the benchmark unless risk.drawdown_basis is absolute",
    ),
    (
        "Colours",
        "green / red",
        "only repeat the sign: + and − and the words BUY / SELL carry the meaning (NO_COLOR=1 turns colour off)",
    ),
)


def glossary_table() -> Table:
    """A Rich table of every column and symbol: pane, what you see, what it means."""
    table = Table(box=None, expand=True, pad_edge=False)
    table.add_column("Pane", no_wrap=True)
    table.add_column("You see", style="bold", no_wrap=True)
    table.add_column("Meaning")
    for row in GLOSSARY:
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists every binding; esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help_close")]

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("[b]pmax keys[/b]  (esc closes)", id="help-title")
            yield Static(bindings_table(self.keymap), id="help-table")
            yield Static(
                "Remap any key in ~/.config/pmax/config.toml, e.g.\n"
                '  [keymap]\n  quit = "ctrl+q"\n  step = "x"\n'
                "A key bound twice is reported at start with both ids.\n"
                "Letters never change what is saved: d, a and t change this session only, u undoes, "
                "ctrl+s saves watchlist and theme to your config. d on a held ticker asks: k keeps "
                "managing the position, l liquidates it at the next open. i asks the copilot from anywhere; "
                "ctrl+p opens the palette (jump to a ticker, ask, pause/step, export, validation).",
                id="help-foot",
                markup=False,
            )
            yield Static(Text("Reading the screen", style="bold"), id="glossary-title")
            yield Static(glossary_table(), id="help-glossary")
