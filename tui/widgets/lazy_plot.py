"""A plotext chart that loads plotext with its first drawing.

textual-plotext and plotext are ~70 modules and ~60 ms of imports, and every pane
composes its charts before any data exists, so importing them up front delays the
first frame and the first data row. `LazyPlot` draws the same thing as
`textual_plotext.PlotextPlot` (a `Plot` sized to the widget, the app's theme mapped to a
plotext theme) but creates its `Plot` only when a pane first asks for `plt`; until
then it draws nothing.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual.widget import Widget


class LazyPlot(Widget):
    """`plt` is a textual_plotext `Plot`, made on first use; call `refresh()` after drawing."""

    DEFAULT_CSS = """
    LazyPlot {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._plot: Any = None

    @property
    def plt(self) -> Any:
        if self._plot is None:
            from textual_plotext.plot import Plot

            self._plot = Plot()
        return self._plot

    def render(self) -> RenderResult:
        if self._plot is None:
            return ""
        width, height = self.size.width, self.size.height
        self._plot.plotsize(width, height)
        self._plot._set_size(width, height)  # as PlotextPlot does: plotsize alone misses resizes
        self._plot.theme(self._theme_name())
        return Text.from_ansi(self._plot.build())

    def _theme_name(self) -> str:
        """The app theme's surface and foreground as a plotext theme (registered once per theme)."""
        from plotext._dict import themes
        from textual_plotext.plot import _rgbify_theme, _sequence

        name = f"textual-auto-{self.app.theme}"
        if name not in themes:
            variables = self.app.theme_variables
            surface = Color.parse(variables.get("surface", "black")).rgb
            foreground = Color.parse(variables.get("foreground", "white")).rgb
            themes[name] = _rgbify_theme(surface, surface, foreground, "default", list(_sequence))
        return name
