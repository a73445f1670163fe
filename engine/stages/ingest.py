"""Ingest stage: the quality gate, then the cycle's bars into `bars`.

Only gated bars reach later stages (`ctx.bars`); quarantined ones are stored with
`quarantined = true` so the record is complete but no model or order sees them.
The history of a ticker joining the universe mid-run (`engine.universe`) is gated
and stored first, like a warm-up, so today's checks and the models see it.
"""

from __future__ import annotations

from engine.cycle import CycleContext, Stage
from engine.events import DataStale
from engine.universe import BACKFILL_KEY


class IngestStage(Stage):
    name = "ingest"

    def run(self, ctx: CycleContext) -> None:
        from engine.data.cache import write_gated
        from engine.data.quality import QualityGate

        batch = ctx.state.get("feed_batch")
        bars = ctx.bars
        gate = ctx.state.get("quality_gate")
        if gate is None:
            gate = ctx.state["quality_gate"] = QualityGate(ctx.config)
        backfill = ctx.state.pop(BACKFILL_KEY, None)
        if backfill is not None and not backfill.empty:  # names joining the universe: gated like warm-up
            write_gated(
                ctx.con, gate.check(backfill, None), getattr(batch, "source", "replay"), found_session=ctx.session
            )
        if bars.empty:
            return
        lookback = gate.history_sessions
        history = None if ctx.warmup else ctx.history(tickers=sorted(bars["ticker"].unique()), lookback=lookback)
        result = gate.check(bars, history)
        if getattr(batch, "stale", False):  # bars served from the cache because every source failed
            result.bars["stale"] = True
            ctx.publish(DataStale(ctx.session, getattr(batch, "reason", "") or "sources failed"))
        # Live batches carry each row's provider; replay batches one source for all.
        source = result.bars["source"] if "source" in result.bars else getattr(batch, "source", "replay")
        write_gated(ctx.con, result, source, found_session=ctx.session)
        kept = result.bars.loc[~result.bars["quarantined"].astype(bool)]
        ctx.bars = kept[["date", "ticker", "open", "high", "low", "close", "volume"]].reset_index(drop=True)
