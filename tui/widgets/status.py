"""The one-line header: as-of session, loop state, device, selected ticker, account."""

from __future__ import annotations

import datetime as dt

from textual.widgets import Static


def status_text(
    as_of: dt.date | None, sessions: int, state: str, device: str | None, ticker: str | None, account: str
) -> str:
    """Plain text of the header (no clock: the app shows the data's date, not the time)."""
    icon = {"running": "▶", "paused": "⏸", "stepping": "…", "finished": "■", "view only": "◼"}.get(state, "·")
    parts = [
        "pmax",
        f"as of {as_of.isoformat() if as_of else '—'}" + (f" ({sessions} sessions)" if sessions else ""),
        f"{icon} {state}",
        f"device {device or '—'}",
        f"account {account}",
    ]
    if ticker:
        parts.append(ticker)
    return " │ ".join(parts)


class StatusBar(Static):
    """Docked at the top; the app calls `show(...)` whenever a field changes."""

    def show(self, *args: object, **kwargs: object) -> None:
        self.update(status_text(*args, **kwargs))  # type: ignore[arg-type]
