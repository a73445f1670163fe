"""NO_COLOR keeps text readable (issue 12): every character drawn has a WCAG 2 contrast
ratio of at least 4.5:1 against its own background, measured on the frame Textual
sends to the terminal (after its monochrome filter), on every pane and screen."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from rich.color import Color
from test_tui_support import FakeEngine, make_app, press, settle

from tui.edits import ConfirmRemoveHeld
from tui.panes.signals import SignalDetail, SignalsPane
from tui.widgets import text as tx

MIN_RATIO = 4.5


def luminance(color: Color) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: Color, bg: Color) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def is_text(ch: str) -> bool:
    """Letters, digits, punctuation and symbols; not box drawing, blocks or braille (graphics)."""
    code = ord(ch)
    if 0x2500 <= code <= 0x259F or 0x2800 <= code <= 0x28FF or ch.isspace():
        return False
    return unicodedata.category(ch)[0] in "LNPS"


def low_contrast(app: Any) -> list[tuple[float, str, str]]:
    """(ratio, text, style) of every drawn run of text under MIN_RATIO (on a modal screen,
    only inside its dialog: the dimmed backdrop behind it is inactive)."""
    from textual.screen import ModalScreen

    region = app.screen.children[0].region if isinstance(app.screen, ModalScreen) else app.screen.region
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    bad = []
    for y, strips in enumerate(update.strips):
        x = 0
        for seg in (seg for strip in strips for seg in strip):
            start, x = x, x + seg.cell_length
            style = seg.style
            if style is None or not any(is_text(ch) for ch in seg.text):
                continue
            if not (region.y <= y < region.bottom and region.x <= start and x <= region.right):
                continue
            fg, bg = style.color, style.bgcolor
            assert fg is not None and bg is not None, f"{seg.text!r} has no explicit colour"
            if style.reverse:
                fg, bg = bg, fg
            ratio = contrast(fg, bg)
            if ratio < MIN_RATIO:
                bad.append((round(ratio, 2), seg.text.strip()[:30], str(style)))
    return bad


@pytest.fixture
def no_color(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    tx.glyphs.cache_clear()
    yield
    tx.glyphs.cache_clear()


def test_wcag_ratio_formula() -> None:
    assert contrast(Color.parse("#000000"), Color.parse("#ffffff")) == pytest.approx(21.0)
    assert contrast(Color.parse("#777777"), Color.parse("#ffffff")) == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(
    "size,theme", [((120, 40), "textual-dark"), ((80, 24), "textual-dark"), ((120, 40), "textual-light")]
)
async def test_no_color_text_contrast(filled, tmp_path: Path, no_color, size, theme) -> None:
    store, last = filled
    app, _ = make_app(store, tmp_path, engine=FakeEngine(store, last), overrides={"tui.theme": theme})
    found: dict[str, list] = {}
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        assert app.no_color and app.theme == theme
        found["panes"] = low_contrast(app)
        for key in ("tab", "tab", "tab", "tab"):  # every pane active once (tabs at 80x24)
            await press(pilot, app, key)
            await settle(pilot, app)
            found[f"after {key}"] = low_contrast(app)
        app.notify("a toast", severity="error")
        app.notify("a warning", severity="warning")
        await press(pilot, app, "question_mark")
        await settle(pilot, app)
        found["help"] = low_contrast(app)
        await press(pilot, app, "escape", "L")
        await settle(pilot, app)
        found["log"] = low_contrast(app)
        await press(pilot, app, "escape")
        await app.push_screen(ConfirmRemoveHeld("AAA", 100.0))
        await settle(pilot, app)
        found["confirm"] = low_contrast(app)
        await press(pilot, app, "escape")
        await app.push_screen(SignalDetail(app.query_one(SignalsPane).signals.iloc[0].to_dict()))
        await settle(pilot, app)
        found["detail"] = low_contrast(app)
    problems = {k: sorted(set(v))[:30] for k, v in found.items() if v}
    assert not problems, problems
