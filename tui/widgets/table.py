"""`PmaxTable`: a DataTable with vi keys that remembers the DataFrame it shows."""

from __future__ import annotations

import pandas as pd
from textual.widgets import DataTable

from tui.keymap import bindings


class PmaxTable(DataTable):
    """A zebra, row-cursor DataTable; `frame` is what export writes."""

    BINDINGS = bindings("table")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.frame: pd.DataFrame = pd.DataFrame()
