"""The one-line header, driven by one reactive `HeaderState`.

It shows what a newcomer needs first: mode (replay/live/view), loop state and
progress through the data, the data's date, equity against equal-weight
buy-and-hold over the same sessions, and the kill switch, read from the same risk
row as the Risk pane so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.widgets.text import ascii_safe, glyphs, signed_pct

ICONS = {"running": "▶", "paused": "⏸", "stepping": "…", "finished": "■", "view only": "◼"}
ASCII_ICONS = {"running": ">", "paused": "||", "stepping": "..", "finished": "[]", "view only": "[]"}


@dataclass(frozen=True)
class HeaderState:
    """Everything the header shows; equal states draw nothing new."""

    mode: str = "view"  # replay | live | view
    state: str = "view only"  # running | paused | stepping | finished | view only
    as_of: dt.date | None = None
    done: int = 0  # sessions committed
    left: int | None = None  # sessions still in the replay file (None: live/unknown)
    equity_ret: float | None = None  # since the first stored session
    bench_ret: float | None = None  # equal-weight buy-and-hold, same sessions
    halted: bool | None = False  # None: the risk rows are not read yet (nothing is claimed)
    halt_reason: str = ""
    ticker: str | None = None
    account: str = ""
    unsaved: bool = False


def status_text(s: HeaderState) -> Text:
    """The header line as Rich Text (plain strings only: nothing here is markup)."""
    ascii_only = glyphs().ascii
    icon = (ASCII_ICONS if ascii_only else ICONS).get(s.state, "·")
    sep = " | " if ascii_only else " │ "
    progress = f"{s.done}" + (f"/{s.done + s.left}" if s.left is not None else "")
    parts: list[Text | str] = [  # most important first: the line is cut at the right edge
        s.mode,
        f"{icon} {s.state}",
        f"{s.as_of.isoformat() if s.as_of else 'no data'} ({progress})",
    ]
    if s.equity_ret is not None:
        bench = f" vs B&H {signed_pct(s.bench_ret)}" if s.bench_ret is not None else ""
        parts.append(f"eq {signed_pct(s.equity_ret)}{bench}")
    if s.halted:
        parts.append(Text(f"KILL SWITCH HALTED: {s.halt_reason or 'no reason recorded'}", style="bold reverse"))
    elif s.halted is not None:
        parts.append("kill switch armed")
    parts.append(f"acct {s.account}")
    if s.ticker:
        parts.append(s.ticker)
    if s.unsaved:
        parts.append(Text("unsaved changes (ctrl+s saves)", style="italic"))
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append(ascii_safe(part) if isinstance(part, str) else part)
    return out


class StatusBar(Static):
    """Docked at the top; the app assigns `state` and the bar redraws when it changes."""

    state: reactive[HeaderState] = reactive(HeaderState, layout=False)

    def render(self) -> Text:
        return status_text(self.state)
