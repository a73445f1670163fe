"""Pure text renderers: sparklines, horizontal bars, number formats.

Plain functions from numbers to strings, so they are cheap in a 500-row table and
easy to test. Meaning never rides on colour alone (signs and marks carry it too),
so the app stays readable with NO_COLOR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """A one-line block sparkline of `values` (the last `width` of them)."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if width is not None:
        data = data[-width:]
    if not data:
        return ""
    lo, hi = min(data), max(data)
    if hi - lo <= 1e-12 * max(abs(hi), 1.0):
        return _BLOCKS[3] * len(data)
    scale = (len(_BLOCKS) - 1) / (hi - lo)
    return "".join(_BLOCKS[int(round((v - lo) * scale))] for v in data)


def hbar(fraction: float | None, width: int = 20) -> str:
    """A bar filled to `fraction` (clipped to 0..1) in `width` cells, eighth-cell precise."""
    if fraction is None or not math.isfinite(fraction):
        return "·" * width
    f = min(max(fraction, 0.0), 1.0)
    eighths = int(round(f * width * 8))
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part and full < width else ""
    return ("█" * full + partial).ljust(width, "░")[:width]


def signed_bar(value: float, scale: float, width: int = 12) -> str:
    """A bar for a signed value: left of the axis when negative, right when positive."""
    if not math.isfinite(value) or scale <= 0:
        return " " * width + "│" + " " * width
    n = min(width, int(round(abs(value) / scale * width)))
    if value < 0:
        return " " * (width - n) + "█" * n + "│" + " " * width
    return " " * width + "│" + "█" * n + " " * (width - n)


def fmt_num(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{digits}f}"


def fmt_pct(value: float | None, digits: int = 2, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def fmt_money(value: float | None, compact: bool = False) -> str:
    """Dollars; `compact` shortens large amounts ($1.05M, $653.6k) for narrow panes."""
    if value is None or not math.isfinite(value):
        return "—"
    if compact and abs(value) >= 1e6:
        return f"${value / 1e6:,.3f}M"
    if compact and abs(value) >= 1e4:
        return f"${value / 1e3:,.1f}k"
    return f"${value:,.0f}"
