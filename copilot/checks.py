"""The number check between a model and the user.

Every number and date in a generated answer must equal, within its printed
rounding, a value in the rows of the tool results the answer was given (routed or
called, the calculator's outputs included), or a number in the question. "1.03%"
matches -0.010278 (percent of a fraction, sign given by words like "lost"), "$3.0k"
matches -2997.38, "0.0044" matches 0.0043681, "2016-02-11" a stored date, "2016"
a stored date's year. Numbers inside `code spans` (quoted stored text) must appear
in a stored text value.

Policy (README, "Copilot"): the answer streams through ``NumberGuard``, which
replaces each unverified number by ``[?]`` before the user sees it (*rewrite*).
When half or more of an answer's numbers are unverified, the grounded offline
answer is appended below it (*fallback*). ``CheckReport.action`` says which
happened: ``verified``, ``rewritten`` or ``fallback``. The report also names the
rows the answer used, so Sources list only those.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from copilot.types import Citation, ToolResult, jsonable

MARK = "[?]"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_TOKEN = re.compile(
    r"(?P<iso>(?<![\w.])\d{4}-\d{2}-\d{2}(?![\w]))"
    rf"|(?P<textdate>\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b)"
    r"|(?P<num>(?<![\w.$/])(?P<sign>[-−+]?)(?P<cur>\$?)(?P<sign2>[-−]?)"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?(?:[eE](?P<exp>[-+]?\d{1,3}))?(?![\d])"
    r"(?P<unit>\s?%|[kK]\b|\s?(?:bn|[mMB])\b|\s(?:million|billion|thousand)\b)?)",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"\b1-day\b|\bone-day\b|\b(?:C?VaR)\s*\(?\s*(?:95|99)\s*%\s*\)?|"
    r"^\s*\d{1,2}[.)]\s|"
    # pmax's own table footer (copilot.render): a count of rows not shown
    r"… and \d+ more rows \(ask about one ticker",
    re.IGNORECASE | re.MULTILINE,
)
_SCALE = {"%": 0.01, "k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_ISO_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Number:
    """One number or date as printed in an answer."""

    text: str
    start: int
    end: int
    value: float | None = None  # scaled value (1.03% → 0.0103), None for dates
    whole: bool = False  # a bare small integer ("5", "20"): only counts match it
    tolerance: float = 0.0  # half a unit of the last printed digit, scaled
    raw: float | None = None  # the digits as printed, unscaled (1.03% → 1.03)
    raw_tolerance: float = 0.0
    day: dt.date | None = None
    in_code: bool = False


def extract(text: str, code_state: bool = False) -> list[Number]:
    """Numbers and dates in ``text`` (list markers and fixed labels like VaR(95%) skipped)."""
    skip = [(m.start(), m.end()) for m in _LABEL.finditer(text)]
    ticks = [m.start() for m in re.finditer("`", text)]
    out: list[Number] = []
    for m in _TOKEN.finditer(text):
        if any(a <= m.start() < b for a, b in skip):
            continue
        in_code = (sum(1 for t in ticks if t < m.start()) % 2 == 1) != code_state
        if m.group("iso") or m.group("textdate"):
            day = _parse_day(m.group(0))
            if day is not None:
                out.append(Number(m.group(0), m.start(), m.end(), day=day, in_code=in_code))
            continue
        digits = m.group("int").replace(",", "")
        dec = m.group("dec") or ""
        raw = float(f"{digits}.{dec}" if dec else digits)
        unit = (m.group("unit") or "").strip().lower()
        scale = _SCALE.get(unit, 1.0) * 10.0 ** int(m.group("exp") or 0)
        half = 0.5 * 10.0 ** (-len(dec))
        whole = not dec and not unit and not m.group("cur") and not m.group("exp") and raw < 100
        out.append(
            Number(
                m.group(0).rstrip(),
                m.start(),
                m.start() + len(m.group(0).rstrip()),
                value=raw * scale,
                tolerance=half * scale,
                raw=raw,
                raw_tolerance=half,
                in_code=in_code,
                whole=whole,
            )
        )
    return out


def _parse_day(text: str) -> dt.date | None:
    if _ISO_TEXT.match(text):
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    m = re.match(rf"({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})", text, re.IGNORECASE)
    if not m:
        return None
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    try:
        return dt.date(int(m.group(3)), months.index(m.group(1)[:3].lower()) + 1, int(m.group(2)))
    except ValueError:
        return None


@dataclass
class _Cell:
    source: int  # index into Evidence.results (flattened)
    row: int
    column: str


@dataclass
class Evidence:
    """Every value an answer may use: the flattened tool results and the question."""

    results: list[ToolResult]
    numbers: list[tuple[float, _Cell | None]] = field(default_factory=list)
    days: dict[dt.date, list[_Cell | None]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, results: Sequence[ToolResult], question: str = "") -> Evidence:
        flat: list[ToolResult] = []

        def walk(res: ToolResult) -> None:
            flat.append(res)
            for child in res.children:
                walk(child)

        for res in results:
            walk(res)
        ev = cls(flat)
        for i, res in enumerate(flat):
            for r, row in enumerate(res.rows):
                for col, value in zip(res.columns, row):
                    ev._add(value, _Cell(i, r, col))
            for text in (res.title, res.note):
                ev._add_text_numbers(text)
            ev.numbers.append((float(len(res.rows)), None))  # "4 forecasts are listed"
            for col in res.columns:  # var_hist_95 → "VaR 95%"
                ev.numbers.extend((float(d), None) for d in re.findall(r"_(\d+)\b", col))
        ev._add_text_numbers(question)
        return ev

    def _add(self, value: Any, cell: _Cell | None) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            self.days.setdefault(value, []).append(cell)
            self.numbers.append((float(value.year), None))
            return
        if isinstance(value, (int, float)) or hasattr(value, "item"):
            v = jsonable(value)
            if isinstance(v, (int, float)) and math.isfinite(v):
                self.numbers.append((float(v), cell))
            return
        if isinstance(value, (list, tuple)):
            for v in value:
                self._add(v, cell)
            return
        text = str(value)
        self.texts.append(text)
        if _ISO_TEXT.match(text):
            day = _parse_day(text)
            if day is not None:
                self.days.setdefault(day, []).append(cell)
                self.numbers.append((float(day.year), None))
        else:
            self._add_text_numbers(text)

    def _add_text_numbers(self, text: str) -> None:
        for n in extract(text or ""):
            if n.day is not None:
                self.days.setdefault(n.day, []).append(None)
                self.numbers.append((float(n.day.year), None))
            elif n.value is not None:
                self.numbers.append((n.value, None))
                if n.raw is not None:
                    self.numbers.append((n.raw, None))

    def match(self, n: Number) -> list[_Cell | None]:
        """Cells that hold ``n`` (empty: unverified). None entries: matched a title or
        the question rather than a row."""
        if n.day is not None:
            return list(self.days.get(n.day, []))
        if n.in_code:
            return [None] if any(n.text.strip("$") in t for t in self.texts) else []
        out: list[_Cell | None] = []
        for value, cell in self.numbers:
            v = abs(value)
            if n.whole and v != int(v):  # "2" is a count or horizon, not 1.7 rounded
                continue
            eps = 1e-12 * max(1.0, v)
            if abs(v - n.value) <= n.tolerance + eps or (  # type: ignore[operator]
                n.raw is not None and n.raw != n.value and abs(v - n.raw) <= n.raw_tolerance + eps
            ):
                out.append(cell)
        return out


@dataclass
class CheckReport:
    """What the check found in one answer."""

    numbers: int = 0
    verified: int = 0
    unverified: list[str] = field(default_factory=list)
    action: str = "verified"  # verified | rewritten | fallback | none
    used: dict[int, set[int]] = field(default_factory=dict)  # flat result → rows used

    def to_dict(self) -> dict[str, Any]:
        return {
            "numbers": self.numbers,
            "verified": self.verified,
            "unverified": len(self.unverified),
            "unverified_values": list(self.unverified),
            "action": self.action,
        }

    @property
    def needs_fallback(self) -> bool:
        return bool(self.unverified) and 2 * len(self.unverified) >= self.numbers

    def footer(self) -> str:
        if not self.numbers:
            return ""
        text = f"_Number check: {self.numbers} numbers, {self.verified} found in the cited rows"
        if self.unverified:
            text += f", {len(self.unverified)} not found and replaced by {MARK}"
            if self.action == "fallback":
                text += "; the answer from the store follows"
        return text + "._"


class NumberGuard:
    """Streams text through the check: unverified numbers become ``[?]`` before
    they are yielded. ``results`` may grow while streaming (tool calls)."""

    def __init__(
        self,
        results: list[ToolResult],
        question: str = "",
        *,
        extra: list[ToolResult] | None = None,
        rewrite: bool = True,
    ) -> None:
        self._results = results
        self._extra = extra if extra is not None else []
        self._question = question
        self._rewrite = rewrite
        self._evidence: Evidence | None = None
        self._seen = -1
        self._buf = ""
        self._in_code = False
        self._ambiguous: list[list[_Cell]] = []
        self.report = CheckReport()
        self.shown = ""

    @property
    def evidence(self) -> Evidence:
        n = len(self._results) + len(self._extra)
        if self._evidence is None or n != self._seen:
            self._evidence = Evidence.build(list(self._results) + list(self._extra), self._question)
            self._seen = n
        return self._evidence

    def feed(self, chunk: str) -> str:
        """Text safe to show now (a number at the end waits for its next character)."""
        self._buf += chunk
        cut = _safe_cut(self._buf)
        if cut <= 0:
            return ""
        part, self._buf = self._buf[:cut], self._buf[cut:]
        return self._process(part)

    def finish(self) -> str:
        part, self._buf = self._buf, ""
        out = self._process(part) if part else ""
        self._settle_ambiguous()
        if self.report.unverified:
            self.report.action = "fallback" if self.report.needs_fallback else "rewritten"
        elif not self.report.numbers:
            self.report.action = "none"
        return out

    def _process(self, text: str) -> str:
        ev = self.evidence
        pieces: list[str] = []
        pos = 0
        for n in extract(text, self._in_code):
            cells = ev.match(n)
            self.report.numbers += 1
            if cells:
                self.report.verified += 1
                rows = [c for c in cells if c is not None]
                if 0 < len(rows) <= 3:
                    for c in rows:
                        self.report.used.setdefault(c.source, set()).add(c.row)
                elif rows:
                    self._ambiguous.append(rows)
                continue
            self.report.unverified.append(n.text)
            if self._rewrite:
                pieces.append(text[pos : n.start])
                pieces.append(MARK)
                pos = n.end
        pieces.append(text[pos:])
        self._in_code = (text.count("`") % 2 == 1) != self._in_code
        out = "".join(pieces)
        self.shown += out
        return out

    def _settle_ambiguous(self) -> None:
        """A loosely printed number ("5") counts a row only if the answer used that
        row (or result) otherwise; if nothing else matched, its first row counts."""
        for rows in self._ambiguous:
            hit = [c for c in rows if c.row in self.report.used.get(c.source, set())]
            if not hit and not self.report.used:
                hit = rows[:1]
            for c in hit:
                self.report.used.setdefault(c.source, set()).add(c.row)


_MONTH_END = re.compile(rf"\b{_MONTH}\.?$", re.IGNORECASE)


def _safe_cut(buf: str) -> int:
    """End of the prefix of ``buf`` that no later text can change: up to the last
    whitespace not preceded by a digit or a month name (so "1.2 million", "3.0k" and
    "February 12, 2016" are checked whole)."""
    i = len(buf)
    while i > 0:
        j = max(buf.rfind(" ", 0, i), buf.rfind("\n", 0, i))
        if j <= 0:
            return 0
        if not buf[j - 1].isdigit() and buf[j - 1] not in ".,$-−" and not _MONTH_END.search(buf[max(0, j - 10) : j]):
            return j
        i = j
    return 0


def used_sources(report: CheckReport, evidence: Evidence) -> list[tuple[Citation, list[dict[str, Any]]]]:
    """Sources the answer used: each citation with the rows (values) it drew on."""
    merged: dict[Citation, list[dict[str, Any]]] = {}
    order: list[Citation] = []
    for i, rows in sorted(report.used.items()):
        res = evidence.results[i]
        for c in res.citations:
            if c not in merged:
                merged[c] = []
                order.append(c)
            for r in sorted(rows):
                rec = jsonable(dict(zip(res.columns, res.rows[r])))
                if rec not in merged[c]:
                    merged[c].append(rec)
    return [(c, merged[c]) for c in order]


def check_text(text: str, results: Iterable[ToolResult], question: str = "") -> CheckReport:
    """Check a finished text (no rewriting); for tests, the bench and offline answers."""
    guard = NumberGuard(list(results), question, rewrite=False)
    guard.feed(text)
    guard.finish()
    return guard.report
