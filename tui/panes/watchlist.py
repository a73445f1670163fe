"""Watchlist pane: every watched ticker's last close, change, trend and signal.

Sortable (`s` cycles the column, `S` reverses), filterable (`/`), editable (`a`
adds, `d` removes; the app persists the list). Moving the cursor posts
`TickerSelected`, which drives the other panes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, Static

from tui.keymap import bindings
from tui.panes.base import WAITING, Pane, TickerSelected, WatchlistEdited
from tui.panes.views import WatchRow
from tui.widgets.table import PmaxTable
from tui.widgets.text import ascii_safe, fmt_num, fmt_pct, sign_style, sparkline

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("Ticker", "Last", "Chg", "Trend (20)", "Signal", "Flags")
SPARK_WIDTH = 20


SORT_KEYS: tuple[tuple[str, Callable[[WatchRow], Any]], ...] = (
    ("ticker", lambda r: r.ticker),
    ("last", lambda r: r.last),
    ("change", lambda r: r.change),
    ("signal", lambda r: (r.signal or "~", -(r.confidence or 0.0))),
    ("confidence", lambda r: r.confidence),
)


def order_rows(rows: Sequence[WatchRow], sort: int, reverse: bool, needle: str) -> list[WatchRow]:
    """Filter by ticker substring, then sort; rows without the sort value go last."""
    needle = needle.strip().upper()
    kept = [r for r in rows if needle in r.ticker.upper()] if needle else list(rows)
    key = SORT_KEYS[sort][1]
    present = [r for r in kept if key(r) is not None]
    missing = [r for r in kept if key(r) is None]
    return sorted(present, key=key, reverse=reverse) + missing


def row_cells(row: WatchRow) -> tuple[Text | str, ...]:
    """The table cells of one watchlist row (signs and marks carry meaning, not colour)."""
    change = Text(fmt_pct(row.change), style=sign_style(row.change), justify="right")
    signal: str | Text = ""
    if row.signal:
        conf = "" if row.confidence is None else f" {row.confidence * 100:.0f}%"
        style = sign_style({"BUY": 1.0, "SELL": -1.0}.get(row.signal))
        signal = Text(f"{row.signal}{conf}", style=style)
    flags = ("S" if row.stale else "") + ("Q" if row.quarantined else "") + ("" if row.last is not None else "?")
    return (
        Text(row.ticker, style="bold"),
        Text(fmt_num(row.last), justify="right"),
        change,
        sparkline(row.spark, SPARK_WIDTH),
        signal,
        flags,
    )


class WatchlistPane(Pane):
    """The watchlist table with its filter and add boxes."""

    PANE_ID: ClassVar[str] = "watchlist"
    TITLE: ClassVar[str] = "Watchlist"
    BINDINGS = bindings("watchlist")

    def __init__(self) -> None:
        super().__init__()
        self.rows: tuple[WatchRow, ...] = ()
        self.sort = 0
        self.reverse = False
        self.needle = ""
        self.selected: str | None = None
        self._shown: list[str] = []
        self._shown_rows: tuple[WatchRow, ...] = ()
        self._drawn: dict[str, WatchRow] = {}

    def compose(self) -> ComposeResult:
        yield Static(WAITING, id="watch-empty", classes="empty")
        table = PmaxTable(id="watch-table")
        table.tooltip = (
            "Signal BUY 60%: latest signal and confidence · Flags S stale, Q quarantined, ? no bars · "
            "d/a change this session only (u undoes, ctrl+s saves). ? has the glossary."
        )
        for name in COLUMNS:
            table.add_column(name, key=name)
        yield table
        yield Input(placeholder="filter tickers (esc clears)", id="watch-filter", classes="box")
        yield Input(placeholder="ticker to add, e.g. AAPL (esc cancels)", id="watch-add", classes="box")

    def primary(self) -> PmaxTable:
        return self.query_one("#watch-table", PmaxTable)

    def set_rows(self, rows: Sequence[WatchRow], empty_text: str) -> None:
        """Show new rows (keeps the selected ticker under the cursor)."""
        self.rows = tuple(rows)
        self.query_one("#watch-empty", Static).update(empty_text)
        self.set_empty(not self.rows)
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.primary()
        keep = self._ticker_under_cursor()
        shown = order_rows(self.rows, self.sort, self.reverse, self.needle)
        names = [r.ticker for r in shown]
        changed = [r for r in shown if self._drawn.get(r.ticker) != r]
        if names == self._shown and table.row_count == len(names) and len(changed) <= 50:
            for r in changed:  # same rows, same order, few changes: update those cells only
                for col, cell in zip(COLUMNS, row_cells(r), strict=True):
                    table.update_cell(r.ticker, col, cell)
        elif changed or names != self._shown or table.row_count != len(names):
            table.clear()
            for r in shown:
                table.add_row(*row_cells(r), key=r.ticker)
        self._drawn = {r.ticker: r for r in shown}
        self._after_order(shown, keep)

    def _ticker_under_cursor(self) -> str | None:
        """The ticker a key has moved the cursor to, when its RowHighlighted is still queued
        (`selected` not updated yet): a refresh must keep it there, not undo the key."""
        row = self.primary().cursor_row
        if self.selected in self._shown and 0 <= row < len(self._shown):
            return self._shown[row]
        return None

    def _after_order(self, shown: list[WatchRow], keep: str | None = None) -> None:
        """Sync the rows to export, the subtitle and the cursor with the rows as shown."""
        table = self.primary()
        names = [r.ticker for r in shown]
        self._shown = names
        self._shown_rows = tuple(shown)
        sort_name = SORT_KEYS[self.sort][0] + (" ↓" if self.reverse else " ↑")
        filt = f" · filter “{self.needle}”" if self.needle else ""
        self.border_subtitle = Text(ascii_safe(f"{len(shown)}/{len(self.rows)} · sort {sort_name}{filt}"))
        target = keep if keep in names else self.selected
        if target in names:
            index = names.index(target)
            if table.cursor_row != index:
                table.move_cursor(row=index, animate=False)

    def export_frame(self) -> pd.DataFrame | None:
        """The rows as shown (sorted and filtered), made when exported."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "ticker": r.ticker,
                    "date": r.date,
                    "last": r.last,
                    "change": r.change,
                    "signal": r.signal,
                    "confidence": r.confidence,
                    "stale": r.stale,
                    "quarantined": r.quarantined,
                }
                for r in self._shown_rows
            ]
        )

    def select(self, ticker: str) -> None:
        """Move the cursor to `ticker` (used by the palette's jump)."""
        self.selected = ticker
        if ticker in self._shown:
            self.primary().move_cursor(row=self._shown.index(ticker), animate=False)

    @on(DataTable.RowHighlighted, "#watch-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        ticker = event.row_key.value if event.row_key is not None else None
        if ticker and ticker != self.selected:
            self.selected = ticker
            self.post_message(TickerSelected(ticker))

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORT_KEYS)
        self._sort_in_place()

    def action_sort_reverse(self) -> None:
        self.reverse = not self.reverse
        self._sort_in_place()

    def _sort_in_place(self) -> None:
        """Reorder the existing rows (no rebuild: fast with hundreds of tickers)."""
        by_name = {r.ticker: r for r in self.rows}
        key = SORT_KEYS[self.sort][1]

        def sort_key(cell: Text) -> tuple[int, Any]:
            value = key(by_name[cell.plain])
            missing = value is None
            return ((0 if missing else 1) if self.reverse else (1 if missing else 0)), (0 if missing else value)

        table = self.primary()
        table.sort("Ticker", key=sort_key, reverse=self.reverse)
        self._after_order(order_rows(self.rows, self.sort, self.reverse, self.needle))

    def action_filter(self) -> None:
        box = self.query_one("#watch-filter", Input)
        box.add_class("-open")
        box.value = self.needle
        self.screen.set_focus(box)  # now: the keys typed right after `/` go into the box

    def action_add_ticker(self) -> None:
        box = self.query_one("#watch-add", Input)
        box.add_class("-open")
        box.value = ""
        self.screen.set_focus(box)  # now: the keys typed right after `a` go into the box

    def action_remove_ticker(self) -> None:
        table = self.primary()
        if not self._shown or table.cursor_row >= len(self._shown):
            self.app.bell()
            return
        self.post_message(WatchlistEdited(remove=self._shown[table.cursor_row]))

    @on(Input.Changed, "#watch-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value
        self._render_rows()

    @on(Input.Submitted, "#watch-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._close_box(event.input)

    @on(Input.Submitted, "#watch-add")
    def _add_done(self, event: Input.Submitted) -> None:
        ticker = event.value.strip().upper()
        self._close_box(event.input)
        if ticker:
            self.selected = ticker
            self.post_message(WatchlistEdited(add=ticker))

    def _close_box(self, box: Input) -> None:
        box.remove_class("-open")
        self.screen.set_focus(self.primary())

    def key_escape(self) -> None:
        for box in self.query(".box.-open").results(Input):
            if box.id == "watch-filter":
                self.needle = ""
                self._render_rows()
            self._close_box(box)
