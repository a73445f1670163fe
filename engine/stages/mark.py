"""Mark-to-market stage of the walking skeleton: an all-cash paper account.

Superseded by the portfolio's risk stage once trading lands; kept for engines
built with an explicit stage list that does no trading.
"""

from __future__ import annotations

import pandas as pd

from engine.cycle import CycleContext, Stage
from engine.store import upsert


class MarkToMarketStage(Stage):
    name = "mark"

    def run(self, ctx: CycleContext) -> None:
        cash = ctx.config.portfolio.initial_cash
        upsert(ctx.con, "equity", pd.DataFrame([{
            "account": ctx.account, "as_of": ctx.session, "cash": cash, "equity": cash,
            "gross": 0.0, "net": 0.0, "drawdown": 0.0, "daily_return": 0.0,
        }]))
