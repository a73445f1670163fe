"""Pure text renderers: sparklines, horizontal bars, number formats.

Plain functions from numbers to strings, so they are cheap in a 500-row table and
easy to test. Meaning never rides on colour alone (signs and marks carry it too),
so the app stays readable with NO_COLOR.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

_BLOCKS = "▁▂▃▄▅▆▇█"
_ASCII_BLOCKS = "_.-=+*#@"


@dataclass(frozen=True)
class Glyphs:
    """What the terminal can draw: `ascii` when the locale is not UTF-8; `mono` under NO_COLOR."""

    ascii: bool
    mono: bool

    @property
    def minus(self) -> str:
        return "-" if self.ascii else "\u2212"


def locale_is_utf8(env: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """True when LC_ALL / LC_CTYPE / LANG name UTF-8 (Python's C-locale coercion ignored)."""
    env = os.environ if env is None else env
    lang = env.get("LANG", "")
    ctype = env.get("LC_CTYPE", "")
    if ctype == "C.UTF-8" and lang in ("", "C", "POSIX"):
        ctype = ""  # set by PEP 538 coercion, not by the user
    value = env.get("LC_ALL") or ctype or lang
    return "utf-8" in value.lower() or "utf8" in value.lower()


@functools.cache
def glyphs() -> Glyphs:
    return Glyphs(ascii=not locale_is_utf8(), mono=bool(os.environ.get("NO_COLOR")))


def sign_style(value: float | None, up: str = "green", down: str = "red") -> str:
    """Colour for a signed value; none under NO_COLOR (the sign and words carry it)."""
    if value is None or glyphs().mono or not math.isfinite(value):
        return ""
    return up if value >= 0 else down


def signed_pct(value: float | None, digits: int = 1) -> str:
    """+1.2% / −0.4% with a true minus sign (ASCII '-' when the locale is not UTF-8)."""
    if value is None or not math.isfinite(value):
        return "—" if not glyphs().ascii else "n/a"
    text = f"{abs(value) * 100:.{digits}f}%"
    return ("+" if value >= 0 else glyphs().minus) + text


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """A one-line block sparkline of `values` (the last `width` of them)."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if width is not None:
        data = data[-width:]
    if not data:
        return ""
    blocks = _ASCII_BLOCKS if glyphs().ascii else _BLOCKS
    lo, hi = min(data), max(data)
    if hi - lo <= 1e-12 * max(abs(hi), 1.0):
        return blocks[3] * len(data)
    scale = (len(blocks) - 1) / (hi - lo)
    return "".join(blocks[int(round((v - lo) * scale))] for v in data)


def hbar(fraction: float | None, width: int = 20) -> str:
    """A bar filled to `fraction` (clipped to 0..1) in `width` cells, eighth-cell precise."""
    if glyphs().ascii:
        if fraction is None or not math.isfinite(fraction):
            return "." * width
        n = int(round(min(max(fraction, 0.0), 1.0) * width))
        return "#" * n + "-" * (width - n)
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
    if signed and value < 0 and glyphs().mono:
        return f"{glyphs().minus}{abs(value) * 100:.{digits}f}%"  # a minus that stands out without red
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


def mark(ok: bool) -> str:
    """✓ / ✗, or ok / no when the locale is not UTF-8."""
    if glyphs().ascii:
        return "ok" if ok else "no"
    return "✓" if ok else "✗"


_ASCII_MAP = str.maketrans(
    {
        "·": "-",
        "↑": "^",
        "↓": "v",
        "…": "...",
        "—": "--",
        "–": "-",
        "“": '"',
        "”": '"',
        "\u2212": "-",
        "✓": "ok",
        "✗": "x",
        "━": "-",
        "▲": "^",
        "▼": "v",
        "●": "@",
        "│": "|",
        "×": "x",
        "≤": "<=",
        "≥": ">=",
    }
)


def ascii_safe(text: str) -> str:
    """`text` with the app's own symbols spelled in ASCII when the locale is not UTF-8."""
    return text.translate(_ASCII_MAP) if glyphs().ascii else text
