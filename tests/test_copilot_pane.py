"""The copilot pane zoomed: esc cancels the answer being written before it un-zooms."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from test_tui_support import make_app, press, settle, wait_until
from textual.widgets import Markdown

from tui.panes.copilot import CopilotPane


class BlockingSession:
    """Streams one fragment, then waits for cancel, like a model mid-answer."""

    def __init__(self) -> None:
        self.last_answer: Any = None

    def stream(self, question: str, cancel: threading.Event):
        from copilot.types import Answer, Citation

        yield "Thinking about "
        cancel.wait(5)
        text = "Thinking about \n\n_(stopped)_\n\n**Sources**\n\n1. `risk` [account=paper]"
        yield text[len("Thinking about ") :]
        self.last_answer = Answer(text, [Citation("risk", "account=paper")], "fake", {"total_s": 0.1})


async def test_esc_in_a_zoomed_pane_cancels_first_then_unzooms(filled, tmp_path: Path) -> None:
    store, _ = filled
    app, _ = make_app(store, tmp_path, copilot_factory=BlockingSession)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        pane = app.query_one(CopilotPane)
        app.action_zoom()
        await settle(pilot, app)
        pane.focus_primary()
        await press(pilot, app, "h", "i", "enter")
        await wait_until(lambda: pane.busy, what="the copilot to start answering")
        assert app.screen.maximized is not None
        await press(pilot, app, "escape")
        await settle(pilot, app)
        assert not pane.busy and app.screen.maximized is not None  # cancelled, still zoomed
        source = app.query_one(".cp-answer", Markdown).source
        assert "_(stopped)_" in source and "**Sources**" in source and "(cancelled)" not in source
        await press(pilot, app, "escape")
        await settle(pilot, app)
        assert app.screen.maximized is None  # the next esc un-zooms
