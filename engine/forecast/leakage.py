"""Look-ahead checker: a feature is causal iff truncating the future leaves its past unchanged.

`find_lookahead` recomputes features on panels cut at several sessions and
compares every row ≤ the cut, bit for bit (NaN equal to NaN), with the values
computed on the full panel. The test suite runs it over the real feature set and
over a planted peeking feature, which it must flag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.forecast.base import Panel

if TYPE_CHECKING:
    from engine.features import FeatureSet


@dataclass(frozen=True)
class Leak:
    """One feature whose value at or before `cut` changed when later bars were removed."""

    feature: str
    cut: int  # rows [0, cut) were kept
    first_row: int  # first differing row (position)
    n_rows: int  # differing (row, ticker) cells


def find_lookahead(
    panel: Panel, compute: Callable[[Panel], FeatureSet] | None = None, cuts: Sequence[int] | None = None
) -> list[Leak]:
    """Features that depend on bars after the row they describe.

    Args:
        panel: the full panel.
        compute: panel -> FeatureSet (default `engine.features.compute_features`).
        cuts: row counts to keep (default: five points spread over the panel).
    """
    if compute is None:
        from engine.features import compute_features

        compute = compute_features
    full = compute(panel)
    n = panel.n_sessions
    if cuts is None:
        cuts = sorted({max(2, int(n * f)) for f in (0.3, 0.5, 0.7, 0.9)} | {n - 1})
    leaks: list[Leak] = []
    for cut in cuts:
        part = compute(panel.rows(cut))
        a, b = full.values[:cut], part.values
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        for k, name in enumerate(full.names):
            bad = ~same[:, :, k]
            if bad.any():
                rows = np.nonzero(bad.any(axis=1))[0]
                leaks.append(Leak(name, int(cut), int(rows[0]), int(bad.sum())))
    return leaks
