"""Export what a pane shows: its table to CSV or Parquet, its chart to plain text.

Pure file writers (they run on a worker thread); names are built from the pane and
the as-of session, never the wall clock, and never overwrite an earlier export.
`ExportMixin` holds the app's export and screenshot actions.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "parquet")


def export_dir(configured: str) -> Path:
    """`[tui] export_dir`, or `<user data dir>/exports` when it is empty."""
    if configured:
        return Path(configured).expanduser()
    from engine.config import user_data_dir

    return user_data_dir() / "exports"


def target_path(folder: Path, pane: str, as_of: dt.date | None, ext: str) -> Path:
    """`<pane>-<as_of>.<ext>` in `folder`, with -2, -3… if that name is taken."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{pane}-{as_of.isoformat() if as_of else 'latest'}")
    path = folder / f"{stem}.{ext}"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.{ext}"
        n += 1
    return path


def write_table(df: pd.DataFrame, folder: Path, pane: str, as_of: dt.date | None, fmt: str) -> Path:
    """Write `df` as CSV or Parquet; returns the file written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = target_path(folder, pane, as_of, fmt)
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def write_text(text: str, folder: Path, pane: str, as_of: dt.date | None) -> Path:
    """Write a chart rendered as text; returns the file written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = target_path(folder, f"{pane}-chart", as_of, "txt")
    path.write_text(text, encoding="utf-8")
    return path


class ExportMixin:
    """The app's export and screenshot actions (mixed into PmaxApp); files go to `[tui] export_dir`."""

    def _export_folder(self) -> Path:
        return export_dir(self.tui.export_dir)  # type: ignore[attr-defined]

    def action_export(self, fmt: str) -> None:
        app: Any = self
        pane = app.pane()
        df = pane.export_frame()
        if df is None or df.empty:
            app.notify(f"{pane.TITLE} has no table to export.", severity="warning")
            return
        self._write_export(pane.PANE_ID, df.copy(), fmt, None)

    def action_export_chart(self) -> None:
        app: Any = self
        pane = app.pane()
        text = pane.chart_text()
        if text is None:
            app.notify(f"{pane.TITLE} has no chart to export.", severity="warning")
            return
        self._write_export(pane.PANE_ID, None, "txt", text)

    @work(thread=True, group="export", exit_on_error=False)
    def _write_export(self, pane_id: str, df: Any, fmt: str, text: str | None) -> None:
        app: Any = self
        folder = self._export_folder()
        try:
            path: Path = (
                write_text(text, folder, pane_id, app.as_of)
                if text is not None
                else write_table(df, folder, pane_id, app.as_of, fmt)
            )
        except Exception as exc:  # noqa: BLE001 - report, keep the session going
            app.call_from_thread(app.notify, f"Export failed: {exc}", severity="error")
            return
        app.last_export = path
        app.call_from_thread(app.notify, f"Exported to {path}", timeout=5)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Save an SVG screenshot into the export folder (created when missing), not ~/Downloads."""
        app: Any = self
        folder = Path(path).expanduser() if path else self._export_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = target_path(folder, "screenshot", app.as_of, "svg") if not filename else folder / filename
            target.write_text(app.export_screenshot(), encoding="utf-8")
        except OSError as exc:
            app.notify(f"Screenshot failed: {exc}", severity="error")
            return None
        app.last_export = target
        app.notify(f"Saved screenshot to {target}", title="Screenshot", timeout=5)
        return str(target)
