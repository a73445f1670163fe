"""Every rule a setting must meet, checked once by `load_config` before anything runs.

`RULES` maps a dotted key to its check (ranges, enumerations, patterns); the
`_validate_*` functions hold the cross-field and registry rules. All of them run on
every load, whatever modules were imported, so a bad value stops `pmax` at start-up
with exit 2, naming the file or environment variable that set it, before any
database is opened. Every float anywhere must be finite. README's "Configuration"
section lists these rules for users.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from engine.config_model import is_secret
from engine.errors import ConfigError

Check = Callable[[Any], "str | None"]
Origin = Callable[[str], str]

#: A ticker: letters, digits, "." and "-", 1-10 characters (BRK.B, BF-B, 7203.T).
TICKER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,9}$")
#: Market-data sources `pmax` knows (engine/data/providers).
SOURCES = ("local", "yfinance", "finnhub")
#: Textual's built-in themes (tests/test_config_rules.py keeps this in step with Textual).
THEMES = (
    "ansi-dark",
    "ansi-light",
    "atom-one-dark",
    "atom-one-light",
    "catppuccin-frappe",
    "catppuccin-latte",
    "catppuccin-macchiato",
    "catppuccin-mocha",
    "dracula",
    "flexoki",
    "gruvbox",
    "monokai",
    "nord",
    "rose-pine",
    "rose-pine-dawn",
    "rose-pine-moon",
    "solarized-dark",
    "solarized-light",
    "textual-dark",
    "textual-light",
    "tokyo-night",
)
#: Sessions the slowest feature needs (engine.features.FEATURE_WARMUP) plus a year's training minimum.
MIN_FIT_WINDOW = 252
MIN_PREDICT_WINDOW = 64


def between(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Check:
    def check(v: Any) -> str | None:
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
        return (
            None if ok else f"must lie in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}, got {v!r}"
        )

    return check


def at_least(lo: float) -> Check:
    return lambda v: None if v >= lo else f"must be at least {lo:g}, got {v!r}"


positive: Check = lambda v: None if v > 0 else f"must be positive, got {v!r}"  # noqa: E731
non_negative: Check = lambda v: None if v >= 0 else f"must be zero or more, got {v!r}"  # noqa: E731
fraction = between(0.0, 1.0)
open_fraction = between(0.0, 1.0, lo_open=True)


def one_of(*allowed: str) -> Check:
    shown = ", ".join(allowed) if len(allowed) <= 8 else f"{', '.join(allowed[:6])}, … ({len(allowed)} names)"
    return lambda v: None if v in allowed else f"must be one of {shown}, got {v!r}"


def not_blank(v: Any) -> str | None:
    return None if str(v).strip() else "must not be empty"


def each(check: Check, non_empty: bool = False, unique: bool = True) -> Check:
    def run(values: Any) -> str | None:
        if non_empty and not values:
            return "must not be empty"
        if unique and len(set(values)) != len(values):
            return f"must not repeat a value, got {values!r}"
        for v in values:
            if (problem := check(v)) is not None:
                return problem
        return None

    return run


def _device(v: Any) -> str | None:
    from engine.device import parse_device  # light: never imports torch at module level
    from engine.errors import UsageError

    try:
        parse_device(v)
    except UsageError:
        return f"must be auto, cpu, cuda or cuda:N, got {v!r}"
    return None


def _ticker(v: Any) -> str | None:
    return (
        None
        if TICKER_PATTERN.match(str(v))
        else (f"has an invalid ticker {v!r} (letters, digits, '.', '-', up to 10 characters)")
    )


def _url(v: Any) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", str(v)) else f"must be an http(s):// URL, got {v!r}"


def _not_future(v: Any) -> str | None:
    return None if v <= dt.date.today() else f"must not be in the future, got {v}"


#: Settings any value of their type may take (paths, names, secrets); every other
#: non-boolean key needs a rule in RULES (tests/test_config_rules.py holds this).
UNCHECKED = (
    "app.db_path",
    "replay.data",
    "data.local_path",
    "data.finnhub_api_key",
    "copilot.model",
    "copilot.openai_model",
    "copilot.openai_api_key",
    "tui.export_dir",
    "sweep.address",
    "serve.runtime_dir",
)

RULES: dict[str, Check] = {
    "app.account": not_blank,
    "app.seed": non_negative,
    "app.log_level": one_of("debug", "info", "warning", "error"),
    "replay.interval_s": non_negative,
    "replay.start": _not_future,
    "data.watchlist": each(_ticker),
    "data.sources": each(one_of(*SOURCES), non_empty=True),
    "data.finnhub_calls_per_minute": positive,
    "data.timeout_s": positive,
    "data.retries": between(0, 10),
    "data.backoff_s": non_negative,
    "data.fetch_days": positive,
    "live.close_delay_minutes": between(0, 600),
    "live.warmup_sessions": at_least(1),
    "live.poll_s": positive,
    "quality.history_sessions": at_least(2),
    "quality.spike_min_move": open_fraction,
    "quality.spike_sigma": positive,
    "quality.spike_reversal": open_fraction,
    "quality.ohlc_repair_max": fraction,
    "quality.stale_sessions": at_least(2),
    "forecast.models": each(not_blank, non_empty=True),
    "forecast.horizons": each(between(1, 252), non_empty=True),
    "forecast.level": between(0.0, 1.0, lo_open=True, hi_open=True),
    "forecast.refit_every": at_least(1),
    "forecast.fit_window": at_least(MIN_FIT_WINDOW),
    "forecast.predict_window": at_least(MIN_PREDICT_WINDOW),
    "forecast.workers": at_least(1),
    "forecast.parallel_min_tickers": at_least(1),
    "forecast.weight_window": at_least(1),
    "forecast.min_scored": non_negative,
    "forecast.threads": at_least(1),
    "forecast.background_refit": each(not_blank),
    "forecast.swap_after": non_negative,
    "forecast.naive.vol_window": at_least(2),
    "forecast.drift.vol_window": at_least(2),
    "forecast.drift.drift_window": at_least(2),
    "forecast.arima.window": at_least(30),
    "forecast.arima.iters": at_least(1),
    "forecast.garch.window": at_least(30),
    "forecast.garch.dist": one_of("t", "normal"),
    "forecast.ssa.window": at_least(4),
    "forecast.ssa.lag": at_least(2),
    "forecast.ssa.max_rank": at_least(1),
    "forecast.ssa.vol_window": at_least(2),
    "forecast.lightgbm.window": at_least(30),
    "forecast.lightgbm.calib_sessions": at_least(1),
    "forecast.lightgbm.n_estimators": at_least(1),
    "forecast.lightgbm.learning_rate": between(0.0, 1.0, lo_open=True),
    "forecast.lightgbm.num_leaves": at_least(2),
    "forecast.lightgbm.max_depth": at_least(-1),
    "forecast.lightgbm.min_data_in_leaf": at_least(1),
    "forecast.lightgbm.num_threads": at_least(1),
    "forecast.lightgbm.max_rows": at_least(100),
    "forecast.lightgbm.shap_backend": one_of("shap", "lightgbm"),
    "forecast.lightgbm.top_drivers": non_negative,
    "forecast.lightgbm.importance_rows": at_least(1),
    "validation.n_windows": at_least(1),
    "validation.step_size": at_least(1),
    "validation.refit_every": at_least(1),
    "validation.window": one_of("expanding", "rolling"),
    "validation.n_folds": at_least(2),
    "validation.n_test_folds": at_least(1),
    "validation.embargo": non_negative,
    "validation.models": each(not_blank, non_empty=True),
    "signals.horizon": at_least(1),
    "signals.prob_band": between(0.0, 0.5),
    "signals.confidence_prior": non_negative,
    "signals.score_window": at_least(1),
    "signals.min_scored": non_negative,
    "signals.dm_alpha": open_fraction,
    "signals.max_corr_to_book": between(-1.0, 1.0),
    "signals.cost_multiple": non_negative,
    "signals.regime_trend_window": at_least(2),
    "signals.regime_vol_window": at_least(2),
    "signals.regime_corr_window": at_least(2),
    "signals.regime_trend_threshold": non_negative,
    "signals.regime_crisis_vol": positive,
    "signals.regime_crisis_corr": between(-1.0, 1.0),
    "portfolio.initial_cash": positive,
    "portfolio.benchmark": one_of("equal_weight", "cash"),
    "portfolio.overlays": each(one_of("hrp", "regime")),
    "portfolio.turnover_budget": non_negative,
    "portfolio.lookback": at_least(20),
    "portfolio.min_history": at_least(2),
    "portfolio.cash_buffer": between(0.0, 0.5),
    "portfolio.kelly_fraction": fraction,
    "portfolio.max_tilt": fraction,
    "portfolio.target_vol": positive,
    "portfolio.max_vol_scale": positive,
    "portfolio.max_position": open_fraction,
    "portfolio.max_gross": between(0.0, 10.0, lo_open=True),
    "portfolio.regime_exposure_bull": between(0.0, 2.0),
    "portfolio.regime_exposure_sideways": between(0.0, 2.0),
    "portfolio.regime_exposure_bear": between(0.0, 2.0),
    "portfolio.regime_exposure_crisis": between(0.0, 2.0),
    "portfolio.drift_threshold": fraction,
    "portfolio.drift_relative": fraction,
    "portfolio.tracking_value_bps": non_negative,
    "portfolio.order_type": one_of("market", "limit"),
    "portfolio.limit_offset_bps": non_negative,
    "broker.slippage_bps": between(0.0, 1000.0),
    "broker.commission_bps": between(0.0, 1000.0),
    "broker.max_bar_participation": open_fraction,
    "risk.daily_loss_halt": open_fraction,
    "risk.drawdown_halve": open_fraction,
    "risk.drawdown_flatten": open_fraction,
    "risk.drawdown_basis": one_of("benchmark", "absolute"),
    "risk.flatten_cooldown": non_negative,
    "risk.market_shock": open_fraction,
    "risk.max_trades_per_session": at_least(1),
    "risk.fat_finger_price_pct": positive,
    "risk.fat_finger_notional_pct": positive,
    "risk.max_participation": open_fraction,
    "risk.cash_cushion_bps": non_negative,
    "risk.mc_paths": non_negative,
    "risk.mc_method": one_of("t", "bootstrap"),
    "risk.mc_every": at_least(1),
    "sweep.engine": one_of("local", "ray"),
    "sweep.workers": non_negative,
    "sweep.pbo_blocks": lambda v: None if v >= 2 and v % 2 == 0 else f"must be an even number ≥ 2, got {v!r}",
    "sweep.dsr_threshold": between(0.0, 1.0, lo_open=True, hi_open=True),
    "device.device": _device,
    "neural.arch": one_of("auto", "transformer", "tcn"),
    "neural.window": at_least(2),
    "neural.width": at_least(1),
    "neural.layers": at_least(1),
    "neural.kernel": at_least(2),
    "neural.encoder_layers": at_least(1),
    "neural.heads": at_least(1),
    "neural.dropout": between(0.0, 1.0, hi_open=True),
    "neural.epochs": at_least(1),
    "neural.batch_size": at_least(1),
    "neural.lr": positive,
    "neural.weight_decay": non_negative,
    "neural.quantiles": each(between(0.0, 1.0, True, True), non_empty=True),
    "neural.direction_weight": non_negative,
    "neural.max_windows": non_negative,
    "neural.train_lookback": at_least(1),
    "neural.cpu_max_windows": non_negative,
    "neural.min_feature_frac": fraction,
    "neural.threads": non_negative,
    "copilot.backend": one_of("auto", "offline", "transformers", "openai"),
    "copilot.device": _device,
    "copilot.quantization": one_of("auto", "nf4", "bf16", "fp32"),
    "copilot.context_tokens": at_least(1),
    "copilot.max_new_tokens": at_least(1),
    "copilot.temperature": between(0.0, 5.0),
    "copilot.tool_calling": one_of("auto", "on", "off"),
    "copilot.timeout_s": positive,
    "copilot.openai_base_url": _url,
    "copilot.cache_size": non_negative,
    "copilot.history_turns": non_negative,
    "copilot.max_rows": at_least(1),
    "copilot.repetition_penalty": between(1.0, 2.0),
    "serve.lock_wait_s": non_negative,
    "tui.theme": one_of(*THEMES),
    "tui.batch_ms": at_least(10),
    "tui.sparkline_sessions": at_least(2),
    "tui.chart_sessions": at_least(2),
    "tui.engine_process": one_of("child", "inline"),
}


#: Forecast models by registry name (engine.forecast.registry, kept in step by a test;
#: listed here so a config check does not import pandas at start-up).
MODELS = ("naive", "drift", "arima", "garch", "ssa", "lightgbm", "neural")


def _registry_names() -> list[str]:
    return list(MODELS)


def _validate_models(get: Callable[[str], Any]) -> tuple[str, str, str | None] | None:
    known = _registry_names()
    for key in ("forecast.models", "validation.models", "forecast.background_refit"):
        unknown = [m for m in get(key) if m not in known]
        if unknown:
            return key, f"names unknown model {unknown[0]!r}", f"known models: {', '.join(known)}"
    return None


def _validate_signal_horizon(get: Callable[[str], Any]) -> tuple[str, str, str | None] | None:
    if get("signals.horizon") not in get("forecast.horizons"):
        return (
            "signals.horizon",
            f"= {get('signals.horizon')} is not one of forecast.horizons {get('forecast.horizons')}",
            "pick a forecast horizon, or add it to forecast.horizons",
        )
    return None


def _validate_drawdowns(get: Callable[[str], Any]) -> tuple[str, str, str | None] | None:
    if get("risk.drawdown_halve") >= get("risk.drawdown_flatten"):
        return (
            "risk.drawdown_halve",
            f"({get('risk.drawdown_halve')}) must be below risk.drawdown_flatten ({get('risk.drawdown_flatten')})",
            "the halving stop comes before the flattening one",
        )
    return None


def _validate_windows(get: Callable[[str], Any]) -> tuple[str, str, str | None] | None:
    if get("forecast.ssa.lag") >= get("forecast.ssa.window"):
        return "forecast.ssa.lag", "must be below forecast.ssa.window", None
    if get("forecast.lightgbm.calib_sessions") >= get("forecast.lightgbm.window"):
        return "forecast.lightgbm.calib_sessions", "must be below forecast.lightgbm.window", None
    if get("validation.n_test_folds") >= get("validation.n_folds"):
        return "validation.n_test_folds", "must be below validation.n_folds", None
    if get("portfolio.min_history") > get("portfolio.lookback"):
        return "portfolio.min_history", "must not exceed portfolio.lookback", None
    if get("neural.arch") != "tcn" and get("neural.width") % get("neural.heads"):
        return "neural.heads", f"must divide neural.width ({get('neural.width')})", None
    quantiles = get("neural.quantiles")
    if list(quantiles) != sorted(quantiles):
        return "neural.quantiles", "must be increasing", None
    if get("copilot.context_tokens") <= get("copilot.max_new_tokens"):
        return "copilot.context_tokens", "must exceed copilot.max_new_tokens", "e.g. 8192 and 512"
    return None


CROSS_CHECKS = (_validate_models, _validate_signal_horizon, _validate_drawdowns, _validate_windows)


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    return [v for v in value if isinstance(v, float)] if isinstance(value, list) else []


def check_values(flat: dict[str, Any], origin: Origin) -> None:
    """Raise ConfigError for the first setting that breaks a rule.

    Args:
        flat: every setting by dotted key (after all layers merged).
        origin: names where a dotted key's value came from (file, variable, flag).
    """

    def fail(key: str, problem: str, hint: str | None = None) -> None:
        if is_secret(key):
            problem = problem.split(", got ")[0]
        raise ConfigError(
            f"{origin(key)}: {key} {problem}", hint or f"fix {key} (see config/default.toml for what it means)"
        )

    for key, value in flat.items():
        if any(not math.isfinite(v) for v in _floats(value)):
            fail(key, f"must be a finite number, got {value!r}")
    for key, check in RULES.items():
        if key in flat and (problem := check(flat[key])) is not None:
            fail(key, problem)
    for cross in CROSS_CHECKS:
        if (found := cross(flat.__getitem__)) is not None:
            fail(*found)
