"""Export what a pane shows: its table to CSV or Parquet, its chart to plain text.

Pure file writers (they run on a worker thread); names are built from the pane and
the as-of session, never the wall clock, and never overwrite an earlier export.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

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
