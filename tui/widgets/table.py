"""`PmaxTable`: a DataTable with vi keys that remembers the DataFrame it shows (None until one is shown).

Plain `str` cells are wrapped in `rich.text.Text` so that nothing from data (a
ticker named `[/]`, a rejection reason) is ever parsed as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable

from tui.keymap import bindings

if TYPE_CHECKING:
    import pandas as pd


def plain(cell: Any) -> Any:
    """A str as literal Text (no markup); anything else unchanged."""
    return Text(cell) if isinstance(cell, str) else cell


class PmaxTable(DataTable):
    """A zebra, row-cursor DataTable; `frame` is what export writes."""

    BINDINGS = bindings("table")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.frame: pd.DataFrame | None = None

    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        return super().add_row(*(plain(c) for c in cells), **kwargs)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell(row_key, column_key, plain(value), **kwargs)
