"""Ingest stage: the quality gate, then the cycle's bars into `bars`.

Only gated bars reach later stages (`ctx.bars`); quarantined ones are stored with
`quarantined = true` so the record is complete but no model or order sees them.
"""

from __future__ import annotations


from engine.cycle import CycleContext, Stage
from engine.events import DataStale
from engine.store import append, upsert


class IngestStage(Stage):
    name = "ingest"

    def run(self, ctx: CycleContext) -> None:
        from engine.data.quality import QualityGate

        batch = ctx.state.get("feed_batch")
        bars = ctx.bars
        if bars.empty:
            return
        gate = ctx.state.get("quality_gate")
        if gate is None:
            gate = ctx.state["quality_gate"] = QualityGate(ctx.config)
        lookback = gate.history_sessions
        history = None if ctx.warmup else ctx.history(tickers=sorted(bars["ticker"].unique()), lookback=lookback)
        result = gate.check(bars, history)
        checked = result.bars.copy()
        if "source" not in checked.columns:  # live batches carry each row's provider
            checked["source"] = getattr(batch, "source", "replay")
        if getattr(batch, "stale", False):
            checked["stale"] = True
            ctx.publish(DataStale(ctx.session, getattr(batch, "reason", "") or "sources failed"))
        keep = ["ticker", "date", "open", "high", "low", "close", "volume", "source", "quarantined", "stale"]
        # A resumed live session may see a bar it already stored: replace, never duplicate.
        upsert(ctx.con, "bars", checked[keep])
        if not result.issues.empty:
            issues = result.issues.copy()
            issues["found_session"] = ctx.session
            append(ctx.con, "quality_issues", issues)
        requarantine = getattr(result, "requarantine", None)
        if requarantine is not None and not requarantine.empty:
            _pmax_requarantine = requarantine[["ticker", "date"]]  # noqa: F841 - replacement scan
            ctx.con.execute(
                "UPDATE bars SET quarantined = TRUE FROM _pmax_requarantine r "
                "WHERE bars.ticker = r.ticker AND bars.date = r.date"
            )
        ctx.bars = checked.loc[~checked["quarantined"].astype(bool), ["date", "ticker", "open", "high", "low", "close", "volume"]].reset_index(drop=True)
