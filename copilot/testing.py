"""Builders shared by the copilot's tests and benchmark (not used at run time).

``build_chat_model`` writes a random-weight Llama with a tokenizer trained on the
spot (``tokenizers`` BPE) and a ChatML chat template, so the real transformers
path runs with no download. ``seed_store`` fills a store with known rows the
offline answers are checked against. The fake OpenAI-compatible server is in
``copilot.openai_testserver``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = (
    "The latest signal for AAPL is BUY with confidence 0.73 as of 2018-02-07. "
    "Forecasts by model: arima, garch, ssa, lightgbm, ensemble; mean, lower, upper, "
    "prob_up, skill. Risk: VaR CVaR drawdown exposure halted kill switch. Positions, "
    "fills, orders rejected, data quality issues, sources, signals table. "
)


def build_chat_model(
    path: Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate: int | None = None,
    vocab: int = 512,
    max_positions: int = 4096,
    seed: int = 0,
) -> Path:
    """Save a random LlamaForCausalLM + trained tokenizer + chat template under ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["<unk>", "<pad>", "<s>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS] * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="<|im_end|>"
    )
    fast.chat_template = CHATML
    fast.save_pretrained(path)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=intermediate or hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=max_positions,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    return path


def seed_store(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date = dt.date(2018, 2, 7),
    *,
    reason: str = "momentum and skill agree",
    account: str = "paper",
) -> dict[str, Any]:
    """Insert a small, fully known portfolio state; returns the inserted numbers."""
    import pandas as pd

    from engine.store import append

    prev = as_of - dt.timedelta(days=1)
    nums: dict[str, Any] = {
        "as_of": as_of,
        "action": "BUY",
        "confidence": 0.7312,
        "expected_return": 0.0147,
        "prob_up": 0.6234,
        "var_hist_95": 0.0183,
        "drawdown": -0.0421,
        "qty": 125,
        "fill_price": 163.25,
        "equity": [1_000_000.0, 1_010_000.0, 1_005_000.0, 1_020_100.0],
        "arima_mean": 0.0112,
        "arima_skill": 0.0375,
        "reason": reason,
    }
    layers = [
        {"layer": "skill", "passed": True, "reason": "ensemble beats naive"},
        {"layer": "regime", "passed": True, "reason": "bull regime"},
    ]
    drivers = [
        {"feature": "mom_20", "value": 0.051, "shap": 0.0042},
        {"feature": "vol_20", "value": 0.19, "shap": -0.0011},
    ]
    append(
        con,
        "signals",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=prev,
                    ticker="AAPL",
                    action="SELL",
                    confidence=0.5,
                    expected_return=-0.01,
                    horizon=5,
                    prob_up=0.4,
                    validated=False,
                    layers="[]",
                    drivers="[]",
                    target_weight=0.0,
                    base_weight=0.05,
                    tilt=-0.05,
                    reason="older",
                ),
                dict(
                    account=account,
                    as_of=as_of,
                    ticker="AAPL",
                    action="BUY",
                    confidence=0.7312,
                    expected_return=0.0147,
                    horizon=5,
                    prob_up=0.6234,
                    validated=True,
                    layers=json.dumps(layers),
                    drivers=json.dumps(drivers),
                    target_weight=0.062,
                    base_weight=0.05,
                    tilt=0.012,
                    reason=reason,
                ),
                dict(
                    account=account,
                    as_of=as_of,
                    ticker="MSFT",
                    action="HOLD",
                    confidence=0.41,
                    expected_return=0.002,
                    horizon=5,
                    prob_up=0.52,
                    validated=False,
                    layers="[]",
                    drivers="[]",
                    target_weight=0.05,
                    base_weight=0.05,
                    tilt=0.0,
                    reason="weak edge",
                ),
            ]
        ),
    )
    append(
        con,
        "forecasts",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=as_of,
                    ticker="AAPL",
                    model=m,
                    horizon=5,
                    mean=mu,
                    lower=mu - 0.04,
                    upper=mu + 0.04,
                    level=0.9,
                    prob_up=0.6,
                    vol=0.021,
                    target_date=as_of + dt.timedelta(days=7),
                    drivers=None,
                )
                for m, mu in (("arima", 0.0112), ("ensemble", 0.0147))
            ]
        ),
    )
    append(
        con,
        "model_weights",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=as_of,
                    model="arima",
                    horizon=5,
                    weight=0.35,
                    skill=0.0375,
                    dm_stat=1.2,
                    dm_pvalue=0.23,
                    n_scored=60,
                    demoted=False,
                    reason="",
                ),
                dict(
                    account=account,
                    as_of=as_of,
                    model="ssa",
                    horizon=5,
                    weight=0.0,
                    skill=-0.02,
                    dm_stat=-0.8,
                    dm_pvalue=0.42,
                    n_scored=60,
                    demoted=True,
                    reason="lost to naive for 20 sessions",
                ),
            ]
        ),
    )
    append(
        con,
        "model_scores",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=as_of - dt.timedelta(days=i),
                    forecast_as_of=as_of - dt.timedelta(days=i + 7),
                    ticker="AAPL",
                    model="arima",
                    horizon=5,
                    actual=a,
                    mean=m,
                    error=a - m,
                    naive_error=a,
                    covered=True,
                    hit=None if a == 0 or m == 0 else (a > 0) == (m > 0),
                    prob_up=0.6,
                )
                for i, (a, m) in enumerate(((0.02, 0.01), (-0.01, 0.005), (0.03, 0.02), (0.0, -0.01)))
            ]
        ),
    )
    append(
        con,
        "risk",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=as_of,
                    var_hist_95=0.0183,
                    cvar_hist_95=0.025,
                    drawdown=-0.0421,
                    gross=0.9,
                    net=0.9,
                    halted=False,
                    regime="bull",
                    limit_utilisation=json.dumps({"gross": 0.6}),
                )
            ]
        ),
    )
    append(
        con,
        "positions",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=as_of,
                    ticker="AAPL",
                    qty=125,
                    avg_cost=160.0,
                    close=163.25,
                    market_value=20406.25,
                    weight=0.02,
                )
            ]
        ),
    )
    append(
        con,
        "orders",
        pd.DataFrame(
            [
                dict(
                    order_id="o1",
                    account=account,
                    as_of=prev,
                    ticker="AAPL",
                    side="BUY",
                    qty=125,
                    type="market",
                    status="filled",
                    reason="",
                    intent="signal",
                    filled_qty=125,
                    updated_session=as_of,
                ),
                dict(
                    order_id="o2",
                    account=account,
                    as_of=prev,
                    ticker="MSFT",
                    side="BUY",
                    qty=900,
                    type="market",
                    status="rejected",
                    reason="max position weight 0.10 exceeded",
                    intent="signal",
                    filled_qty=0,
                    updated_session=prev,
                ),
            ]
        ),
    )
    append(
        con,
        "fills",
        pd.DataFrame(
            [
                dict(
                    fill_id="f1",
                    order_id="o1",
                    account=account,
                    date=as_of,
                    ticker="AAPL",
                    side="BUY",
                    qty=125,
                    price=163.25,
                    commission=1.0,
                    slippage=0.02,
                )
            ]
        ),
    )
    eq = nums["equity"]
    append(
        con,
        "equity",
        pd.DataFrame(
            [
                dict(
                    account=account,
                    as_of=as_of - dt.timedelta(days=len(eq) - 1 - i),
                    cash=1e5,
                    equity=e,
                    daily_return=None if i == 0 else e / eq[i - 1] - 1.0,
                )
                for i, e in enumerate(eq)
            ]
        ),
    )
    append(
        con,
        "quality_issues",
        pd.DataFrame(
            [
                dict(
                    ticker="MSFT",
                    date=prev,
                    rule="zero_volume",
                    action="quarantine",
                    detail="volume 0",
                    found_session=prev,
                )
            ]
        ),
    )
    return nums
